//go:build !linux

package jobs

import "os/exec"

// setChildAttrs does nothing outside Linux (no parent-death signal).
func setChildAttrs(*exec.Cmd) {}

// startChild starts cmd.
func startChild(cmd *exec.Cmd, _ <-chan struct{}) error { return cmd.Start() }
