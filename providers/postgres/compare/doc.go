// Package compare is the one bucketed comparison of a table on two
// servers. verify reports from it and the xmin engine repairs from it.
package compare
