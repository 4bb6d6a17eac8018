package picker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
)

// source is a logical-capable PostgreSQL 15 source with three databases
// to offer, a template and one that refuses connections.
func source() *catalog.Server {
	pk := func(schema, name string, bytes, rows int64, cols ...catalog.Column) *catalog.Table {
		return &catalog.Table{Schema: schema, Name: name, Kind: catalog.KindTable, Bytes: bytes, EstimatedRows: rows,
			PrimaryKey: []string{"id"}, ReplicaIdentity: catalog.ReplicaIdentityDefault,
			Columns: append([]catalog.Column{{Name: "id", Type: "integer"}}, cols...)}
	}
	noPK := pk("public", "logs", 8192, 30, catalog.Column{Name: "at", Type: "timestamp with time zone"})
	noPK.PrimaryKey = nil
	partition := pk("public", "m_2024", 1<<20, 10)
	partition.Parent, partition.ParentSchema, partition.ParentName = "public.m", "public", "m"
	return &catalog.Server{
		VersionNum: 150004, Version: "15.4", WalLevel: "logical", CurrentUser: "app",
		Privileges: catalog.Privileges{Replication: true},
		Databases: []*catalog.Database{
			{Name: "gamma", SizeBytes: 9 << 20, AllowConn: true, Introspected: true, Tables: []*catalog.Table{
				pk("public", "g", 4<<20, 1000),
			}},
			{Name: "alpha", SizeBytes: 20 << 20, AllowConn: true, Introspected: true, LargeObjects: 2, Tables: []*catalog.Table{
				pk("public", "events", 3<<20, 5000, catalog.Column{Name: "created_at", Type: "timestamp with time zone"}, catalog.Column{Name: "day", Type: "date"}),
				pk("public", "items", 100*planning.CopyRate, -1),
				noPK,
				pk("public", "m", 1<<20, 10),
				partition,
			}},
			{Name: "beta", SizeBytes: 8 << 10, AllowConn: true, Introspected: true},
			{Name: "template1", SizeBytes: 7 << 20, AllowConn: true, IsTemplate: true},
			{Name: "locked", SizeBytes: 0, AllowConn: false},
		},
	}
}

func TestDatabasesOffersReplicableOnesWithSizeAndTableCount(t *testing.T) {
	got := Databases(source())
	want := []Database{{"alpha", 20 << 20, 4}, {"beta", 8 << 10, 0}, {"gamma", 9 << 20, 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("Databases = %+v, want %+v", got, want)
	}
	if l := got[0].Label(); l != "alpha  (20 MB, 4 tables)" {
		t.Errorf("label %q", l)
	}
	if l := (Database{Name: "x", Bytes: 8192, Tables: 1}).Label(); l != "x  (8192 bytes, 1 table)" {
		t.Errorf("label %q", l)
	}
}

func TestTablesLeaveOutPartitionsAndMarkMissingPrimaryKeys(t *testing.T) {
	tables := Tables(source(), "alpha")
	var labels []string
	for _, tb := range tables {
		labels = append(labels, tb.Label())
	}
	want := []string{
		"public.events  (3072 kB, ~5000 rows)",
		"public.items  (5000 MB, rows unknown)",
		"public.logs  (8192 bytes, ~30 rows)  no primary key",
		"public.m  (1024 kB, ~10 rows)",
	}
	if !slices.Equal(labels, want) {
		t.Fatalf("labels:\n%s\nwant:\n%s", strings.Join(labels, "\n"), strings.Join(want, "\n"))
	}
	if got := tables[0].TimeColumns; !slices.Equal(got, []string{"created_at", "day"}) {
		t.Errorf("time columns %v", got)
	}
	if tables[2].UsableIdentity || !tables[0].UsableIdentity {
		t.Errorf("usable identity: logs %v, events %v", tables[2].UsableIdentity, tables[0].UsableIdentity)
	}
	if Tables(source(), "nosuch") != nil {
		t.Error("tables of a missing database")
	}
}

func ref(db, table string) lang.TableRef {
	return lang.TableRef{Database: db, Schema: "public", Table: table}
}

// chosen is a typical answer: two of three databases, one table left
// out, one schema-only, one filtered.
func chosen() Choices {
	return Choices{
		Databases:  []string{"gamma", "alpha"},
		Exclude:    []lang.TableRef{ref("alpha", "m")},
		SchemaOnly: []lang.TableRef{ref("alpha", "items")},
		Filters: []Filter{{Table: ref("alpha", "events"),
			Window: &lang.TimeWindow{Column: "created_at", Last: lang.Window{Count: 90, Unit: "days"}}}},
		ReplicaIdentityFull: []lang.TableRef{ref("alpha", "logs"), ref("alpha", "events")},
	}
}

func TestConfigIsWrittenAsCanonicalHCLWithoutTheURLs(t *testing.T) {
	const srcURL, dstURL = "postgres://app:s3cret@src:5432/postgres", "postgres://admin:t0p@dst/postgres"
	out := lang.WriteHCL(chosen().Config(srcURL, dstURL))
	want := `variable "source_url" {
  description = "` + SourceURLDescription + `"
  sensitive   = true
}

variable "target_url" {
  description = "` + TargetURLDescription + `"
  sensitive   = true
}

source "source" {
  url = var.source_url
}

target "target" {
  url = var.target_url
}

replication "main" {
  source         = source.source
  target         = target.target
  databases      = ["alpha", "gamma"]
  exclude_tables = ["alpha.public.m"]
  schema_only    = ["alpha.public.items"]

  table "alpha.public.events" {
    time_window {
      column = "created_at"
      last   = "90 days"
    }
    replica_identity = "full"
  }

  table "alpha.public.logs" {
    replica_identity = "full"
  }
}
`
	if string(out) != want {
		t.Fatalf("written:\n%s\nwant:\n%s", out, want)
	}
	for _, secret := range []string{"s3cret", "t0p", "src:5432", "dst"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("the written file holds %q", secret)
		}
	}
	// It loads back with the URLs given as variables, as init does.
	cfg, diags := lang.LoadSources(map[string][]byte{"replication.hcl": out}, lang.LoadOptions{
		Vars: map[string]string{"source_url": srcURL, "target_url": dstURL}})
	if len(diags) > 0 {
		t.Fatalf("does not load back: %v", diags)
	}
	if got := cfg.Sources["source"].URL; got != srcURL {
		t.Errorf("source URL %q", got)
	}
	r := cfg.Replications[0]
	if !slices.Equal(r.Databases, []string{"alpha", "gamma"}) || len(r.Tables) != 2 || r.Tables[0].TimeWindow == nil {
		t.Errorf("loaded back: %+v", r)
	}
}

func TestConfigWritesAChosenMethodAndSubscriptionPassword(t *testing.T) {
	c := Choices{Databases: []string{"beta"}, Method: lang.SyncXmin, SubscriptionPassword: lang.SubscriptionPasswordNone}
	out := string(lang.WriteHCL(c.Config("postgres://a@h/postgres", "postgres://b@h/postgres")))
	for _, want := range []string{`method                = "xmin"`, `subscription_password = "none"`, `databases = ["beta"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "exclude_tables") || strings.Contains(out, "table \"") {
		t.Errorf("empty choices written:\n%s", out)
	}
}

func TestNeedsIdentityOnlyUnderLogicalSync(t *testing.T) {
	c := Choices{Databases: []string{"alpha", "gamma"}}
	if got := c.NeedsIdentity(source()); !slices.Equal(got, []lang.TableRef{ref("alpha", "logs")}) {
		t.Errorf("logical: %v", got)
	}
	c.SchemaOnly = []lang.TableRef{ref("alpha", "logs")}
	if got := c.NeedsIdentity(source()); len(got) != 0 {
		t.Errorf("schema-only tables are not published: %v", got)
	}
	c.SchemaOnly = nil
	c.ReplicaIdentityFull = []lang.TableRef{ref("alpha", "logs")}
	if got := c.NeedsIdentity(source()); len(got) != 0 {
		t.Errorf("already FULL: %v", got)
	}
	c.ReplicaIdentityFull = nil
	c.Method = lang.SyncXmin
	if got := c.NeedsIdentity(source()); len(got) != 0 {
		t.Errorf("xmin: %v", got)
	}
	c.Method = ""
	src := source()
	src.WalLevel = "replica" // auto falls back to xmin
	if got := c.NeedsIdentity(src); len(got) != 0 {
		t.Errorf("wal_level=replica: %v", got)
	}
}

func TestWindowsOutsideKey(t *testing.T) {
	c := chosen()
	c.ReplicaIdentityFull = nil
	if got := c.WindowsOutsideKey(source()); !slices.Equal(got, []lang.TableRef{ref("alpha", "events")}) {
		t.Errorf("got %v", got)
	}
	c.Filters[0].Window.Column = "id"
	if got := c.WindowsOutsideKey(source()); len(got) != 0 {
		t.Errorf("key column: %v", got)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize(source(), chosen())
	if len(s.Databases) != 2 || s.Databases[0].Name != "alpha" || s.Databases[1].Name != "gamma" {
		t.Fatalf("databases %+v", s.Databases)
	}
	a := s.Databases[0]
	var copied []string
	for _, tb := range a.Copied {
		copied = append(copied, tb.Ref.String())
	}
	if !slices.Equal(copied, []string{"alpha.public.logs"}) {
		t.Errorf("copied %v", copied)
	}
	if len(a.Filtered) != 1 || a.Filtered[0].Filter != "created_at within the last 90 days" {
		t.Errorf("filtered %+v", a.Filtered)
	}
	if !slices.Equal(a.SchemaOnly, []lang.TableRef{ref("alpha", "items")}) || !slices.Equal(a.Excluded, []lang.TableRef{ref("alpha", "m")}) {
		t.Errorf("schema-only %v, excluded %v", a.SchemaOnly, a.Excluded)
	}
	if want := int64(8192 + 3<<20 + 4<<20); s.Bytes != want || a.Bytes != 8192+3<<20 {
		t.Errorf("bytes %d (alpha %d), want %d", s.Bytes, a.Bytes, want)
	}
	if s.Time != time.Second || s.Method.Method != lang.SyncLogical {
		t.Errorf("time %s, method %+v", s.Time, s.Method)
	}
	text := strings.Join(s.Attention, "\n")
	for _, want := range []string{
		"alpha.public.logs has no primary key: published with REPLICA IDENTITY FULL",
		"alpha.public.events is published with REPLICA IDENTITY FULL",
		"alpha has 2 large objects",
		"A filtered table counts whole",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("attention lacks %q:\n%s", want, text)
		}
	}

	// Copying the 5000 MB table takes 100 s at the assumed rate.
	c := Choices{Databases: []string{"alpha"}, Exclude: []lang.TableRef{ref("alpha", "logs"), ref("alpha", "events"), ref("alpha", "m")}}
	if s := Summarize(source(), c); s.Time != 100*time.Second {
		t.Errorf("time %s", s.Time)
	}
}

func TestSummarizeAttentionPerMethod(t *testing.T) {
	src := source()
	src.WalLevel = "replica"
	s := Summarize(src, Choices{Databases: []string{"alpha"}})
	text := strings.Join(s.Attention, "\n")
	if s.Method.Fallback != planner.FallbackWalLevel || !strings.Contains(text, "wal_level=replica") {
		t.Errorf("fallback not explained: %+v\n%s", s.Method, text)
	}
	if !strings.Contains(text, "alpha.public.logs has no primary key: xmin sync compares it as a multiset of rows") {
		t.Errorf("xmin without primary key not noted:\n%s", text)
	}

	old := source()
	old.VersionNum, old.Version = 140009, "14.9"
	c := Choices{Databases: []string{"gamma"}, Filters: []Filter{{Table: ref("gamma", "g"), Where: "id > 10"}}}
	text = strings.Join(Summarize(old, c).Attention, "\n")
	if !strings.Contains(text, "gamma.public.g has a row filter, and the source runs PostgreSQL 14.9") {
		t.Errorf("PostgreSQL 14 row filter not noted:\n%s", text)
	}
	text = strings.Join(Summarize(source(), c).Attention, "\n")
	if !strings.Contains(text, "gamma.public.g: a published row filter may use only replica-identity columns") {
		t.Errorf("where filter not noted:\n%s", text)
	}

	s = Summarize(source(), Choices{Databases: []string{"alpha"}})
	if !strings.Contains(strings.Join(s.Attention, "\n"), "alpha.public.logs has no primary key: plan will refuse to publish it") {
		t.Errorf("unresolved identity not noted: %v", s.Attention)
	}
}
