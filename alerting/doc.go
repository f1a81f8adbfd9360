// Package alerting holds bouncewatch's Prometheus alert rules and their tests.
package alerting
