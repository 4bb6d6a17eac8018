package plans

import (
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

// TableAttrs describe the copy of one table.
type TableAttrs struct {
	// Filter is the row filter SQL ("" copies every row).
	Filter string
	// SchemaOnly tables get their structure and no rows.
	SchemaOnly bool
	// EstimatedRows and Bytes are the source's estimates.
	EstimatedRows, Bytes int64
	// Method is the replication's sync method.
	Method lang.SyncMethod
	// Publication carries the table (slot-based methods); "" otherwise.
	Publication string
	// CopiedByTableSync is set when the subscription's table sync copies
	// the table instead of a snapshot copy; Subscription then names the
	// subscription, and TimeWindow the window its filter is frozen from.
	CopiedByTableSync bool
	Subscription      string
	TimeWindow        *TimeWindow
	// NewSnapshot is set when the stream engine resumes an interrupted
	// snapshot: the slot is kept, and the table is copied in a newer
	// snapshot whose consistent point apply records as StreamFrom (the
	// stream applies the table's changes from there).
	NewSnapshot bool
	StreamFrom  string
	// Recorded by apply: rows and bytes copied, CTID parts of a split
	// copy, and the frozen filter a re-copy by the table sync published.
	CopiedRows, CopiedBytes *int64
	Parts                   *int
	FrozenTimeWindow        string
	// TargetSchema and TargetTable are the table's name on the target
	// when it is remapped (a table or schema block's target); both ""
	// when it keeps the source's name.
	TargetSchema, TargetTable string
}

// Target returns the table's schema and name on the target: the remapped
// name, else source's.
func (a *TableAttrs) Target(schema, table string) (string, string) {
	if a != nil && a.TargetTable != "" {
		return a.TargetSchema, a.TargetTable
	}
	return schema, table
}

// Kind implements Attrs.
func (*TableAttrs) Kind() addrs.Kind { return addrs.Table }

// copiedByTableSync is the wire value of copied_by for CopiedByTableSync.
const copiedByTableSync = "table_sync"

func (a *TableAttrs) encode() map[string]any {
	m := map[string]any{"filter": a.Filter, "schema_only": a.SchemaOnly,
		"estimated_rows": number(a.EstimatedRows), "bytes": number(a.Bytes), "method": string(a.Method)}
	if a.Publication != "" {
		m["publication"] = a.Publication
	}
	if a.CopiedByTableSync {
		m["copied_by"] = copiedByTableSync
	}
	if a.Subscription != "" {
		m["subscription"] = a.Subscription
	}
	if a.TimeWindow != nil {
		m["time_window"] = a.TimeWindow.wire()
	}
	if a.NewSnapshot {
		m["new_snapshot"] = true
	}
	if a.StreamFrom != "" {
		m["stream_from"] = a.StreamFrom
	}
	if a.CopiedRows != nil {
		m["copied_rows"] = number(*a.CopiedRows)
	}
	if a.CopiedBytes != nil {
		m["copied_bytes"] = number(*a.CopiedBytes)
	}
	if a.Parts != nil {
		m["parts"] = number(*a.Parts)
	}
	if a.FrozenTimeWindow != "" {
		m["frozen_time_window"] = a.FrozenTimeWindow
	}
	if a.TargetTable != "" {
		m["target_schema"], m["target_table"] = a.TargetSchema, a.TargetTable
	}
	return m
}

func decodeTable(f *fields) *TableAttrs {
	return &TableAttrs{
		Filter: f.str("filter"), SchemaOnly: f.boolean("schema_only"),
		EstimatedRows: f.integer("estimated_rows"), Bytes: f.integer("bytes"),
		Method: lang.SyncMethod(f.str("method")), Publication: f.str("publication"),
		CopiedByTableSync: f.str("copied_by") == copiedByTableSync, Subscription: f.str("subscription"),
		TimeWindow: f.window("time_window", f.m["time_window"]),
		CopiedRows: f.optInt64("copied_rows"), CopiedBytes: f.optInt64("copied_bytes"), Parts: f.optInt("parts"),
		FrozenTimeWindow: f.str("frozen_time_window"),
		TargetSchema:     f.str("target_schema"), TargetTable: f.str("target_table"),
		NewSnapshot: f.boolean("new_snapshot"), StreamFrom: f.str("stream_from"),
	}
}

// PostDataAttrs describe the indexes, constraints and triggers built after
// the copies of one database.
type PostDataAttrs struct {
	// IndexJobs is the number of parallel builds; Source where the DDL
	// comes from.
	IndexJobs int
	Source    string
	// Recorded by apply: post-data items and large objects copied.
	Items, LargeObjects *int
	// RefreshMaterializedViews are the materialized views populated on
	// the source and not on the target, in REFRESH order (each after the
	// ones it reads); NoDataMaterializedViews those populated on the
	// target only (REFRESH ... WITH NO DATA).
	RefreshMaterializedViews, NoDataMaterializedViews []TableName
	// Database are the database's properties set last; nil when not
	// planned.
	Database *DatabaseProperties
}

// Kind implements Attrs.
func (*PostDataAttrs) Kind() addrs.Kind { return addrs.PostData }

func (a *PostDataAttrs) encode() map[string]any {
	m := map[string]any{"index_jobs": number(a.IndexJobs), "source": a.Source}
	if a.Items != nil {
		m["items"] = number(*a.Items)
	}
	if a.LargeObjects != nil {
		m["large_objects"] = number(*a.LargeObjects)
	}
	a.Database.encode(m)
	for key, ts := range map[string][]TableName{"refresh_materialized_views": a.RefreshMaterializedViews, "no_data_materialized_views": a.NoDataMaterializedViews} {
		if len(ts) > 0 {
			// In REFRESH order, not sorted.
			names := make([]string, len(ts))
			for i, t := range ts {
				names[i] = t.wire()
			}
			m[key] = list(names)
		}
	}
	return m
}

func decodePostData(f *fields) *PostDataAttrs {
	a := &PostDataAttrs{IndexJobs: int(f.integer("index_jobs")), Source: f.str("source"),
		Items: f.optInt("items"), LargeObjects: f.optInt("large_objects"), Database: decodeDatabaseProperties(f)}
	for _, q := range f.strs("refresh_materialized_views") {
		a.RefreshMaterializedViews = append(a.RefreshMaterializedViews, f.tableName("refresh_materialized_views", q))
	}
	for _, q := range f.strs("no_data_materialized_views") {
		a.NoDataMaterializedViews = append(a.NoDataMaterializedViews, f.tableName("no_data_materialized_views", q))
	}
	return a
}

// SequencesAttrs describe the sequence value sync of one database.
type SequencesAttrs struct {
	// Sequences is how many sequences are set (planned, then as set).
	Sequences int
}

// Kind implements Attrs.
func (*SequencesAttrs) Kind() addrs.Kind { return addrs.Sequences }

func (a *SequencesAttrs) encode() map[string]any {
	return map[string]any{"sequences": number(a.Sequences)}
}

func decodeSequences(f *fields) *SequencesAttrs {
	return &SequencesAttrs{Sequences: int(f.integer("sequences"))}
}

// XminAttrs describe the xmin cursor of one table (xmin sync method).
type XminAttrs struct {
	// Interval is the sync interval as configured ("10s").
	Interval string
	// BatchSize is the number of rows per upsert batch.
	BatchSize int
	// PrimaryKey lists the table's primary-key columns.
	PrimaryKey []string
	// XminWatermark is where the cursor starts, recorded by apply (0:
	// not recorded).
	XminWatermark uint64
	// Paused is set while sync is paused (sync { enabled = false }, or
	// the pause command): sync runs no cycle for the table.
	Paused bool
}

// Kind implements Attrs.
func (*XminAttrs) Kind() addrs.Kind { return addrs.Xmin }

func (a *XminAttrs) encode() map[string]any {
	m := map[string]any{"interval": a.Interval, "batch_size": number(a.BatchSize), "primary_key": list(nonNil(a.PrimaryKey))}
	if a.XminWatermark != 0 {
		m["xmin_watermark"] = number(a.XminWatermark)
	}
	if a.Paused {
		m["paused"] = true
	}
	return m
}

func decodeXmin(f *fields) *XminAttrs {
	return &XminAttrs{Interval: f.str("interval"), BatchSize: int(f.integer("batch_size")),
		PrimaryKey: f.strs("primary_key"), XminWatermark: f.unsigned("xmin_watermark"),
		Paused: f.boolean("paused")}
}
