// Package planner turns a configuration, the introspected source and target
// servers and the prior state into a plan (package plans): the ordered
// changes that apply will make, each with its typed attributes, reason and
// dependencies. It is pure: it reads its inputs and executes nothing.
package planner
