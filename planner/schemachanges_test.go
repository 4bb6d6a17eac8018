package planner

import (
	"slices"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
	"github.com/database-replicator/database-replicator/state"
)

// typeChanged returns both sides' schemas of "app" where the source
// retyped public.customers.id from integer to bigint.
func typeChanged() map[string]*schemacompare.Schema {
	side := func(typ string) *schemacompare.Schema {
		return schemacompare.NewSchema(
			&schemacompare.Object{Kind: "table", Name: "public.customers", Attributes: map[string]string{}},
			&schemacompare.Object{Kind: "column", Name: "public.customers.id", Parent: "public.customers", Attributes: map[string]string{"type": typ}})
	}
	return map[string]*schemacompare.Schema{SchemaKey("source.prod", "app"): side("bigint"), SchemaKey("target.replica", "app"): side("integer")}
}

func TestSchemaDifferencesPerPolicy(t *testing.T) {
	const ddl = "ALTER TABLE public.customers ALTER COLUMN id TYPE bigint USING id::bigint;"
	for _, tc := range []struct {
		policy  string
		action  plans.Action
		code    diag.Code
		sev     diag.Severity
		subDeps bool
	}{
		{"apply", plans.Update, CodeSchemaChangeRisky, diag.Warning, false},
		{"plan", plans.Update, CodeSchemaDriftAwaitsReview, diag.Warning, true},
		{"fail", plans.Update, CodeSchemaDrift, diag.Error, false},
		{"ignore", plans.NoOp, CodeSchemaDriftIgnored, diag.Warning, false},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			src, dst, st := applied()
			p, diags := Build(Input{Config: loadConfig(t, `policy { on_schema_drift = "`+tc.policy+`" }`), Servers: servers(src, dst), Prior: st, Schemas: typeChanged()})
			if !hasCode(diags, tc.sev, tc.code) {
				t.Fatalf("no %s %s in %v", tc.sev, tc.code, diags)
			}
			for _, d := range diags {
				if d.Code == tc.code && !strings.Contains(d.Detail, "column public.customers.id") {
					t.Errorf("%s does not name the change: %s", d.Code, d.Detail)
				}
			}
			var schema, sub *plans.Change
			for _, c := range p.Changes {
				switch c.Addr.String() {
				case `replication.main.schema["app"]`:
					schema = c
				case `replication.main.subscription["app"]`:
					sub = c
				}
			}
			if schema == nil || schema.Action != tc.action {
				t.Fatalf("schema change %v, want %s", schema, tc.action)
			}
			if tc.action == plans.Update {
				stmts := schema.After.(*plans.SchemaAttrs).Drift.Statements
				if len(stmts) != 1 || stmts[0].SQL != ddl || stmts[0].Phase != plans.PhaseAlter {
					t.Fatalf("statements %+v", stmts)
				}
				// Streaming: the drops wait for the subscription's slot.
				if got := stmts0Slot(schema); got != SlotName(lang.DefaultSubscription, "app") {
					t.Errorf("slot %q", got)
				}
				// Through the state and plan file encoding and back.
				back, err := plans.DecodeAttrs(addrs.Schema, plans.EncodeAttrs(schema.After))
				if err != nil || back.(*plans.SchemaAttrs).Drift.Statements[0] != stmts[0] || back.(*plans.SchemaAttrs).Drift.Slot != stmts0Slot(schema) {
					t.Fatalf("round trip: %v %+v", err, back)
				}
			}
			if got := slices.Contains(sub.DependsOn, schema.Addr); got != tc.subDeps {
				t.Errorf("subscription after the schema change: %v, want %v", got, tc.subDeps)
			}
		})
	}
}

func stmts0Slot(c *plans.Change) string { return c.After.(*plans.SchemaAttrs).Drift.Slot }

func TestSchemaDifferencesNotReadLeaveTheOldDetection(t *testing.T) {
	src, dst, st := applied()
	p, _ := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if got := changes(p); len(got) != 0 {
		t.Fatalf("changes without drift: %v", got)
	}
}

// TestSchemaDifferencesUnderTheStreamEngine: once the stream engine's
// snapshot finished, its slot carries rows written before a DDL, so the
// drops wait for it (Slot), read through its publication when no applier
// runs (Publication); before that, nothing streams.
func TestSchemaDifferencesUnderTheStreamEngine(t *testing.T) {
	cfg := loadConfig(t, `sync { method = "stream" }`)
	slot := SlotName(lang.DefaultSubscription, "app")
	src, dst, _ := applied()
	src.Slots[0].Active = false
	dst.Database("app").Subscriptions = nil
	st := state.New()
	first, _ := Build(Input{Config: cfg, Servers: servers(sourceServer(), emptyTarget()), Prior: state.New()})
	for _, c := range first.Changes {
		st.SetResource(&state.Resource{Address: c.Addr.String(), Kind: string(c.Addr.Kind), Attributes: plans.EncodeAttrs(c.After), Status: state.StatusDone})
	}
	drift := func(st *state.State) *plans.SchemaDrift {
		t.Helper()
		p, diags := Build(Input{Config: cfg, Servers: servers(src, dst), Prior: st, Schemas: typeChanged()})
		for _, c := range p.Changes {
			if c.Addr.String() == `replication.main.schema["app"]` && c.Action == plans.Update {
				return c.After.(*plans.SchemaAttrs).Drift
			}
		}
		t.Fatalf("no schema update: %v %v", changes(p), diags)
		return nil
	}
	d := drift(st)
	if d.Slot != slot || d.Publication != lang.DefaultPublication {
		t.Fatalf("slot %q publication %q, want %q and %q", d.Slot, d.Publication, slot, lang.DefaultPublication)
	}
	back, err := plans.DecodeAttrs(addrs.Schema, plans.EncodeAttrs(&plans.SchemaAttrs{Drift: d}))
	if err != nil || back.(*plans.SchemaAttrs).Drift.Publication != d.Publication {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	// The snapshot has not finished (post-data not done): nothing streams.
	pd := st.Resource(`replication.main.post_data["app"]`)
	if pd == nil {
		t.Fatal("no post-data in the state")
	}
	pd.Status = state.StatusCreated
	if d := drift(st); d.Slot != "" || d.Publication != "" {
		t.Errorf("before the snapshot finished: slot %q publication %q", d.Slot, d.Publication)
	}
}
