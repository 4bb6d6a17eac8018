// Package picker is the logic behind the interactive picker of init, sync
// and config generate: what it offers from an introspected source
// (databases with their size and table count, tables with size, row
// estimate and primary key), and what the user's Choices become: a
// configuration (Choices.Config, written as replication.hcl) and a
// summary (Summarize). It draws nothing and reads no terminal: the
// terminal UI lives in the CLI, and everything here is pure.
package picker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// Database is one database the picker offers.
type Database struct {
	// Name is the database name.
	Name string
	// Bytes is pg_database_size.
	Bytes int64
	// Tables is the number of tables the picker offers in it
	// (partitions are counted with their partitioned table).
	Tables int
}

// Label is the database's line in the picker: name, size, table count.
func (d Database) Label() string {
	return fmt.Sprintf("%s  (%s, %s)", d.Name, lang.FormatBytes(d.Bytes), plural(d.Tables, "table", "tables"))
}

// Databases lists the databases of src that can be replicated (not a
// template, connections allowed), sorted by name.
func Databases(src *catalog.Server) []Database {
	var out []Database
	for _, d := range src.Databases {
		if d.IsTemplate || !d.AllowConn {
			continue
		}
		out = append(out, Database{Name: d.Name, Bytes: d.SizeBytes, Tables: len(Tables(src, d.Name))})
	}
	slices.SortFunc(out, func(a, b Database) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Table is one table the picker offers.
type Table struct {
	// Ref names the table with its database.
	Ref lang.TableRef
	// Bytes is the table's size (a partitioned table: its partitions').
	Bytes int64
	// Rows is the planner's row estimate, -1 when never analysed.
	Rows int64
	// PrimaryKey is the table's primary key columns, nil when none.
	PrimaryKey []string
	// UsableIdentity reports whether UPDATE and DELETE keep working once
	// the table is published (catalog.Table.UsableReplicaIdentity).
	UsableIdentity bool
	// TimeColumns are the columns of a date or timestamp type, the
	// candidates for a time window.
	TimeColumns []string
}

// Label is the table's line in the picker: schema.name, size, rows, and
// "no primary key" when it has none.
func (t Table) Label() string {
	rows := "rows unknown"
	if t.Rows >= 0 {
		rows = "~" + plural64(t.Rows, "row", "rows")
	}
	s := fmt.Sprintf("%s.%s  (%s, %s)", t.Ref.Schema, t.Ref.Table, lang.FormatBytes(t.Bytes), rows)
	if len(t.PrimaryKey) == 0 {
		s += "  no primary key"
	}
	return s
}

// Tables lists the tables of database db that the picker offers: the
// ordinary and partitioned tables of its user schemas, partitions left
// out (they are copied with their partitioned table), sorted by schema
// and name. Nil when db was not introspected.
func Tables(src *catalog.Server, db string) []Table {
	d := src.Database(db)
	if d == nil {
		return nil
	}
	var out []Table
	for _, t := range d.Tables {
		if t.Parent != "" {
			continue
		}
		out = append(out, Table{
			Ref:            lang.TableRef{Database: db, Schema: t.Schema, Table: t.Name},
			Bytes:          t.Bytes,
			Rows:           t.EstimatedRows,
			PrimaryKey:     t.PrimaryKey,
			UsableIdentity: t.UsableReplicaIdentity(),
			TimeColumns:    timeColumns(t),
		})
	}
	return out
}

// timeColumns lists the columns of t whose type is a date or a timestamp.
func timeColumns(t *catalog.Table) []string {
	var out []string
	for _, c := range t.Columns {
		if c.Type == "date" || strings.HasPrefix(c.Type, "timestamp") {
			out = append(out, c.Name)
		}
	}
	return out
}

// plural renders n with the singular or plural noun.
func plural(n int, one, many string) string { return plural64(int64(n), one, many) }

// plural64 is plural for an int64.
func plural64(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
