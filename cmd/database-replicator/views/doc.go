// Package views renders every output of the command line: plans, apply
// progress, status, verify and validate. Each output has one interface
// (StatusView, VerifyView, ValidateView, ...) with a human implementation
// (tables for a terminal) and a JSON one, both writing to an io.Writer so
// that tests capture them in a buffer. Views decide nothing: they render
// data that library packages computed, and the command decides the exit
// code.
package views
