package globals

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// roleURL is a URL for database db of c as role user with password pw.
func roleURL(c *pgtest.Cluster, user, pw, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, pw),
		Host: "127.0.0.1:" + strconv.Itoa(c.Port()), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

func TestGlobalsCopy(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	ctx := testCtx(t)
	src.CreateRole(t, "alice", "alice-Secret:1", "CONNECTION LIMIT 5")
	src.CreateRole(t, "boss", "boss-pw", "SUPERUSER")
	src.CreateRole(t, "rdsadmin", "x")
	src.CreateRole(t, "carol", "carol-pw", "CREATEDB")
	src.Exec(t, "postgres", `CREATE ROLE "Mixed ""Role"" é" NOLOGIN;
		GRANT "Mixed ""Role"" é" TO alice;
		GRANT boss TO carol;
		GRANT pg_read_all_data TO carol;
		ALTER ROLE alice SET search_path = 'app, public';
		COMMENT ON ROLE alice IS 'the app';`)
	dst.CreateRole(t, "carol", "old-pw")                  // exists on the target
	dst.CreateRole(t, "migrator", "mig-pw", "CREATEROLE") // for the non-superuser run

	var logged []string
	res, err := Copy(ctx, mustParse(t, src.URL("postgres")), mustParse(t, dst.URL("postgres")), func(m string) { logged = append(logged, m) })
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	t.Logf("result: %+v", res)
	if res.Failed != 0 {
		t.Errorf("failed statements: %v", res.Warnings)
	}
	if !res.PasswordsCopied {
		t.Error("PasswordsCopied false with a superuser source")
	}
	all := strings.Join(res.Warnings, "\n")
	if strings.Join(logged, "\n") != all {
		t.Error("log did not receive the warnings")
	}
	for _, want := range []string{`skipping role "boss"`, `skipping role "rdsadmin"`, `skipping role "` + src.User() + `"`} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "SCRAM") || strings.Contains(all, "Secret") {
		t.Errorf("warnings leak a password:\n%s", all)
	}
	for _, r := range []string{"boss", "rdsadmin"} {
		if n := dst.QueryInt(t, "postgres", `SELECT count(*) FROM pg_roles WHERE rolname = $1`, r); n != 0 {
			t.Errorf("role %s was created on the target", r)
		}
	}
	if n := dst.QueryInt(t, "postgres", `SELECT count(*) FROM pg_roles WHERE rolname = 'Mixed "Role" é' AND NOT rolcanlogin`); n != 1 {
		t.Error("quoted role missing on the target")
	}
	if n := dst.QueryInt(t, "postgres", `SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
		WHERE r.rolname = 'Mixed "Role" é' AND u.rolname = 'alice'`); n != 1 {
		t.Error("membership missing on the target")
	}
	if n := dst.QueryInt(t, "postgres", `SELECT count(*) FROM pg_roles WHERE rolname = 'carol' AND rolcreatedb`); n != 1 {
		t.Error("existing role carol was not updated (CREATEDB)")
	}
	if n := dst.QueryInt(t, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = 'alice'`); n != 5 {
		t.Errorf("alice connection limit = %d", n)
	}
	if n := dst.QueryInt(t, "postgres", `SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'alice'`); n != 1 {
		t.Error("alice's settings missing")
	}
	// The password moved: alice and carol log in on the target with their
	// source passwords.
	for user, pw := range map[string]string{"alice": "alice-Secret:1", "carol": "carol-pw"} {
		conn, err := conninfo.Connect(ctx, mustParse(t, roleURL(dst, user, pw, "postgres")))
		if err != nil {
			t.Errorf("%s cannot log in on the target: %v", user, err)
			continue
		}
		conn.Close(context.Background())
	}
	if len(res.RolesCreated) == 0 || !contains(res.RolesCreated, "alice") || !contains(res.RolesUpdated, "carol") {
		t.Errorf("created %v updated %v", res.RolesCreated, res.RolesUpdated)
	}

	// Rerun: converges, no failure because roles exist.
	res2, err := Copy(ctx, mustParse(t, src.URL("postgres")), mustParse(t, dst.URL("postgres")), nil)
	if err != nil || res2.Failed != 0 {
		t.Fatalf("second Copy: %v %+v", err, res2.Warnings)
	}

	// A non-superuser source: no passwords, with a warning; a non-superuser
	// (CREATEROLE) target: superuser-only options are left out.
	src.CreateRole(t, "reader", "reader-pw")
	src.CreateRole(t, "dave", "dave-pw")
	res3, err := Copy(ctx, mustParse(t, roleURL(src, "reader", "reader-pw", "postgres")),
		mustParse(t, roleURL(dst, "migrator", "mig-pw", "postgres")), nil)
	if err != nil {
		t.Fatalf("Copy as non-superusers: %v", err)
	}
	t.Logf("non-superuser result: %+v", res3)
	if res3.PasswordsCopied || !strings.Contains(strings.Join(res3.Warnings, "\n"), "not a superuser") {
		t.Errorf("want a warning about passwords: %+v", res3)
	}
	if n := dst.QueryInt(t, "postgres", `SELECT count(*) FROM pg_roles WHERE rolname = 'dave'`); n != 1 {
		t.Errorf("dave not created by a CREATEROLE target user: %v", res3.Warnings)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A synthetic pg_dumpall output with what a test cluster cannot easily
// produce: tablespaces, provider roles, GRANTED BY a skipped role.
const dumpallSample = `--
-- PostgreSQL database cluster dump
--

SET default_transaction_read_only = off;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Roles
--

CREATE ROLE "admin";
ALTER ROLE "admin" WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$abc:def';
CREATE ROLE "rds_superuser";
ALTER ROLE "rds_superuser" WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE "app; drop";
ALTER ROLE "app; drop" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN REPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:eHl6$ghi:jkl';
CREATE ROLE "me";
ALTER ROLE "me" WITH NOSUPERUSER LOGIN;
COMMENT ON ROLE "app; drop" IS 'it''s -- not a comment; really';

--
-- Role memberships
--

GRANT "rds_superuser" TO "app; drop" GRANTED BY "rdsadmin";
GRANT "pg_monitor" TO "app; drop" GRANTED BY "admin";
GRANT "app; drop" TO "me" GRANTED BY "admin";

--
-- Tablespaces
--

CREATE TABLESPACE "fast" OWNER "admin" LOCATION '/mnt/fast';
GRANT ALL ON TABLESPACE "fast" TO "app; drop";
\unrestrict abc
`

func TestGlobalsPlanSample(t *testing.T) {
	stmts := splitSQL(dumpallSample)
	p := planGlobals(stmts, globalsContext{targetUser: "me", targetSuper: false, targetRoles: map[string]bool{"postgres": true, "pg_monitor": false}})
	var sqls []string
	for _, s := range p.statements {
		sqls = append(sqls, s.sql)
	}
	got := strings.Join(sqls, "\n")
	want := strings.Join([]string{
		`SET default_transaction_read_only = off;`,
		`SET client_encoding = 'UTF8';`,
		`SET standard_conforming_strings = on;`,
		`CREATE ROLE "app; drop";`,
		`ALTER ROLE "app; drop" WITH INHERIT NOCREATEROLE NOCREATEDB LOGIN PASSWORD 'SCRAM-SHA-256$4096:eHl6$ghi:jkl';`,
		`COMMENT ON ROLE "app; drop" IS 'it''s -- not a comment; really';`,
		`GRANT "pg_monitor" TO "app; drop";`,
	}, "\n")
	if got != want {
		t.Errorf("statements:\n%s\nwant:\n%s", got, want)
	}
	warn := strings.Join(p.warnings, "\n")
	for _, w := range []string{`skipping role "admin": it is a superuser`, `skipping role "rds_superuser"`, `skipping role "me"`,
		`skipping tablespace "fast"`, `REPLICATION cannot be set`} {
		if !strings.Contains(warn, w) {
			t.Errorf("warnings lack %q:\n%s", w, warn)
		}
	}
	if strings.Contains(warn, "SCRAM") {
		t.Errorf("warnings leak a verifier:\n%s", warn)
	}
	if d := p.statements[4].describe(); strings.Contains(d, "SCRAM") || !strings.Contains(d, "xxxxx") {
		t.Errorf("describe = %s", d)
	}
}
