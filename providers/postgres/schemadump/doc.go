// Package schemadump moves schema: pg_dump --schema-only split into
// pre-data and post-data items (DumpSchema, DumpPostData, DumpTables),
// applied on the target (ApplySQL, ApplyPostData, ApplyDDL), and the
// column definitions that schema drift adds (ColumnDefinitions).
package schemadump
