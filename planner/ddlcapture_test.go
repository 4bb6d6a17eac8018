package planner

import (
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"testing"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/state"
)

const captureDDL = `policy {
    capture_ddl = true
  }
  sync {
    method = "logical"
  }`

func TestDDLCapturePlannedBeforeThePublicationThatCarriesItsLog(t *testing.T) {
	src := sourceServer()
	src.Privileges.Superuser = true
	p, diags := Build(Input{Config: loadConfig(t, captureDDL), Servers: servers(src, emptyTarget()), Prior: state.New()})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	byAddr := map[string]*plans.Change{}
	for _, c := range p.Changes {
		byAddr[c.Addr.String()] = c
	}
	capture := byAddr[`replication.main.ddl_capture["app"]`]
	if capture == nil || capture.Action != plans.Create {
		t.Fatalf("ddl_capture not created: %v", changes(p))
	}
	pub := byAddr[`replication.main.publication["app"]`]
	if !hasDep(pub, capture.Addr.String()) {
		t.Fatalf("publication does not wait for the capture: %v", pub.DependsOn)
	}
	published := false
	for _, tb := range pub.After.(*plans.PublicationAttrs).Tables {
		published = published || tb.Table == ddlLogName
	}
	if !published {
		t.Fatalf("the DDL log is not published: %+v", pub.After)
	}

	// Applied: state records it, the next plan keeps it; without the
	// policy it is dropped after the publication lets the log go.
	st := state.New()
	for _, c := range p.Changes {
		st.SetResource(&state.Resource{Address: c.Addr.String(), Kind: string(c.Addr.Kind), Attributes: plans.EncodeAttrs(c.After), Status: state.StatusDone})
	}
	p2, _ := Build(Input{Config: loadConfig(t, captureDDL), Servers: servers(src, emptyTarget()), Prior: st})
	for _, c := range p2.Changes {
		if c.Addr.Kind == addrs.DDLCapture && c.Action != plans.NoOp {
			t.Fatalf("recorded capture planned again: %s", c.Action)
		}
	}
	p3, _ := Build(Input{Config: loadConfig(t, `sync {
    method = "logical"
  }`), Servers: servers(src, emptyTarget()), Prior: st})
	var del *plans.Change
	for _, c := range p3.Changes {
		if c.Addr.Kind == addrs.DDLCapture {
			del = c
		}
	}
	if del == nil || del.Action != plans.Delete || !hasDep(del, `replication.main.publication["app"]`) {
		t.Fatalf("capture not dropped after the publication: %+v", del)
	}

	d := Destroy(st, false, "destroy")
	for _, c := range d.Changes {
		if c.Addr.Kind == addrs.DDLCapture && (!hasDep(c, `replication.main.subscription["app"]`) || !hasDep(c, `replication.main.publication["app"]`)) {
			t.Fatalf("destroy drops the capture before the subscription and publication: %v", c.DependsOn)
		}
	}
}

func TestDDLCaptureRefused(t *testing.T) {
	// Not a superuser: event triggers cannot be created.
	_, diags := Build(Input{Config: loadConfig(t, captureDDL), Servers: servers(sourceServer(), emptyTarget()), Prior: state.New()})
	if !hasCode(diags, diag.Error, CodeDDLCaptureNeedsSuperuser) {
		t.Fatalf("no %s: %v", CodeDDLCaptureNeedsSuperuser, errorsOf(diags))
	}
	// none: nothing streams or cycles, so nothing would replay the log.
	src := sourceServer()
	src.Privileges.Superuser = true
	_, diags = Build(Input{Config: loadConfig(t, `policy {
    capture_ddl = true
  }
  sync {
    method = "none"
  }`), Servers: servers(src, emptyTarget()), Prior: state.New()})
	if !hasCode(diags, diag.Error, CodeDDLCaptureUnsupported) {
		t.Fatalf("no %s: %v", CodeDDLCaptureUnsupported, errorsOf(diags))
	}
}

// Under the stream engine the stream's publication carries the log, as
// under logical; the applier inserts its rows on the target.
func TestDDLCaptureUnderStream(t *testing.T) {
	src := sourceServer()
	src.Privileges.Superuser = true
	p, diags := Build(Input{Config: loadConfig(t, `policy {
    capture_ddl = true
  }
  sync {
    method = "stream"
  }`), Servers: servers(src, emptyTarget()), Prior: state.New()})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	var capture, pub *plans.Change
	for _, c := range p.Changes {
		switch c.Addr.Kind {
		case addrs.DDLCapture:
			capture = c
		case addrs.Publication:
			pub = c
		}
	}
	if capture == nil || capture.Action != plans.Create || pub == nil || !hasDep(pub, capture.Addr.String()) {
		t.Fatalf("capture not planned before the stream's publication: %v", changes(p))
	}
	published := false
	for _, tb := range pub.After.(*plans.PublicationAttrs).Tables {
		published = published || tb.Table == ddlLogName
	}
	if !published {
		t.Fatalf("the DDL log is not published: %+v", pub.After)
	}
}

func TestDDLCaptureUnderXmin(t *testing.T) {
	src := sourceServer()
	src.Privileges.Superuser = true
	p, diags := Build(Input{Config: loadConfig(t, `policy {
    capture_ddl = true
  }
  sync {
    method = "xmin"
  }`), Servers: servers(src, emptyTarget()), Prior: state.New()})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if got := changes(p)[`replication.main.ddl_capture["app"]`]; got != plans.Create {
		t.Fatalf("ddl_capture: %v", changes(p))
	}
}

// The capture's log table on the source is the tool's, never a table in
// scope (it would be copied and published as data).
func TestOwnSchemaIsNotInScope(t *testing.T) {
	src := sourceServer()
	app := src.Database("app")
	app.Tables = append(app.Tables, table(plans.DDLLogSchema, plans.DDLLogTable, true, "seq", "statement"))
	app.Schemas = append(app.Schemas, plans.DDLLogSchema)
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, emptyTarget()), Prior: state.New()})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	for _, c := range p.Changes {
		if c.Addr.Kind == addrs.Table && c.Addr.Key == "app.database_replicator.ddl_log" {
			t.Fatalf("the DDL log is planned as a table: %s", c.Addr)
		}
		if sa, ok := c.After.(*plans.SchemaAttrs); ok {
			for _, s := range sa.Schemas {
				if s == plans.DDLLogSchema {
					t.Fatalf("the tool's schema is copied: %v", sa.Schemas)
				}
			}
		}
	}
}

// Turned on while the subscription streams: the publication adds the log
// and the subscription subscribes it without a copy; together with a new
// table for the table sync (one refresh cannot do both) it is refused.
func TestDDLCaptureJoinsAStreamingSubscription(t *testing.T) {
	const subAddr = `replication.main.subscription["app"]`
	src, dst, st := applied()
	src.Privileges.Superuser = true
	p, diags := Build(Input{Config: loadConfig(t, captureDDL), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := changes(p)
	if got[`replication.main.ddl_capture["app"]`] != plans.Create || got[`replication.main.publication["app"]`] != plans.Update || got[subAddr] != plans.Update {
		t.Fatalf("changes %v", got)
	}
	for _, c := range p.Changes {
		if c.Addr.String() != subAddr {
			continue
		}
		if sa := c.After.(*plans.SubscriptionAttrs); !sa.SubscribeDDLLog || len(sa.RefreshPublication) > 0 {
			t.Errorf("subscription after %+v", sa)
		}
		if !strings.Contains(c.Reason, "REFRESH PUBLICATION WITH (copy_data = false)") {
			t.Errorf("reason %q", c.Reason)
		}
		if wire(c.After)["subscribe_ddl_log"] != true {
			t.Errorf("the plan does not show subscribe_ddl_log: %v", wire(c.After))
		}
	}

	// Once the subscription lists the log, nothing is left to do.
	tapp := dst.Database("app")
	tapp.Subscriptions[0].Tables = append(tapp.Subscriptions[0].Tables, catalog.SubscriptionTable{Schema: plans.DDLLogSchema, Name: plans.DDLLogTable, State: catalog.SubStateReady})
	p, _ = Build(Input{Config: loadConfig(t, captureDDL), Servers: servers(src, dst), Prior: st})
	if changes(p)[subAddr] != "" {
		t.Errorf("subscription still changed: %v", changes(p))
	}
	tapp.Subscriptions[0].Tables = tapp.Subscriptions[0].Tables[:len(tapp.Subscriptions[0].Tables)-1]

	src.Database("app").Tables = append(src.Database("app").Tables, table("public", "invoices", true, "id", "total"))
	_, diags = Build(Input{Config: loadConfig(t, captureDDL), Servers: servers(src, dst), Prior: st})
	if !hasCode(diags, diag.Error, CodeDDLCaptureUnsupported) {
		t.Fatalf("no %s: %v", CodeDDLCaptureUnsupported, errorsOf(diags))
	}
}
