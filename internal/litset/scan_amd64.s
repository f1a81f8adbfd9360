#include "textflag.h"

// func scan(t *tables, p *byte, blocks int, last *byte) (block int, mask uint32)
//
// For each block of 32 positions (blocks of them from p, then one from last
// unless it is nil): the bytes at a position and the next two are each
// split into their low and high 4-bit halves, VPSHUFB looks the halves up
// in the tables of window bytes 0, 1 and 2, and the six lookups are ANDed: a
// bit left in a position's byte is a bucket whose window may start there.
// The first block with a byte left is returned, with a bit per such byte.
TEXT ·scan(SB), NOSPLIT, $0-44
	MOVQ  t+0(FP), AX
	MOVQ  p+8(FP), SI
	MOVQ  blocks+16(FP), DX
	MOVQ  last+24(FP), R8
	XORQ  BX, BX
	MOVQ  DX, CX
	TESTQ R8, R8
	JZ    counted
	INCQ  CX

counted:
	TESTQ CX, CX
	JZ    none
	TESTQ DX, DX
	JNZ   tables
	MOVQ  R8, SI

tables:
	VMOVDQU 0(AX), Y0
	VMOVDQU 32(AX), Y1
	VMOVDQU 64(AX), Y2
	VMOVDQU 96(AX), Y3
	VMOVDQU 128(AX), Y4
	VMOVDQU 160(AX), Y5
	VMOVDQU 192(AX), Y6
	VPXOR   Y7, Y7, Y7

loop:
	VMOVDQU (SI), Y8
	VPSRLW  $4, Y8, Y9
	VPAND   Y6, Y8, Y8
	VPAND   Y6, Y9, Y9
	VPSHUFB Y8, Y0, Y8
	VPSHUFB Y9, Y1, Y9
	VPAND   Y8, Y9, Y10

	VMOVDQU 1(SI), Y8
	VPSRLW  $4, Y8, Y9
	VPAND   Y6, Y8, Y8
	VPAND   Y6, Y9, Y9
	VPSHUFB Y8, Y2, Y8
	VPSHUFB Y9, Y3, Y9
	VPAND   Y8, Y9, Y8
	VPAND   Y8, Y10, Y10

	VMOVDQU 2(SI), Y8
	VPSRLW  $4, Y8, Y9
	VPAND   Y6, Y8, Y8
	VPAND   Y6, Y9, Y9
	VPSHUFB Y8, Y4, Y8
	VPSHUFB Y9, Y5, Y9
	VPAND   Y8, Y9, Y8
	VPAND   Y8, Y10, Y10

	VPCMPEQB  Y7, Y10, Y10
	VPMOVMSKB Y10, R10
	NOTL      R10
	TESTL     R10, R10
	JNZ       found
	INCQ      BX
	CMPQ      BX, CX
	JAE       end
	ADDQ      $32, SI
	CMPQ      BX, DX
	JNE       loop
	MOVQ      R8, SI
	JMP       loop

end:
	VZEROUPPER

none:
	MOVQ $-1, block+32(FP)
	MOVL $0, mask+40(FP)
	RET

found:
	VZEROUPPER
	MOVQ BX, block+32(FP)
	MOVL R10, mask+40(FP)
	RET
