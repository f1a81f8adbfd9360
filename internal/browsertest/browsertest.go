// Package browsertest holds what the browser tests of several packages
// share: Debian's Chromium, headless, driven by chromedp.
package browsertest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/testenv"
	"github.com/chromedp/chromedp"
)

// Start starts Chromium headless for the test, with a 2-minute limit, and
// stops it when the test ends. Without a chromium binary it fails on CI
// ($CI set) and skips elsewhere.
func Start(t *testing.T) context.Context {
	t.Helper()
	path := testenv.Tool(t, "chromium", "apt-get install -y chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1400, 1000))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// ConsoleErrors collects what the page reports as an error from now on: a
// script exception, a console error, an entry of the browser log at level
// error (a Content-Security-Policy violation is one). The function returned
// gives those seen so far.
func ConsoleErrors(ctx context.Context) func() []string {
	var mu sync.Mutex
	var errs []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == "error" || m.Type == chromedp.ConsoleException {
				mu.Lock()
				errs = append(errs, m.Text)
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

// Run runs one browser action and fails the test if it fails.
func Run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
