package state

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://app:s3cr%40t@db.example.com:5432/myapp?sslmode=require",
			"postgres://app:xxxxx@db.example.com:5432/myapp?sslmode=require"},
		{"postgresql://app@db/myapp?password=s3cret&sslmode=disable", "postgresql://app@db/myapp?password=xxxxx&sslmode=disable"},
		{"host=db user=app password=s3cret dbname=myapp", "host=db user=app password=xxxxx dbname=myapp"},
		{"host=db password='s3 cr\\'et' dbname=myapp", "host=db password=xxxxx dbname=myapp"},
		{"host=db PASSWORD = s3cret sslpassword=k3y", "host=db PASSWORD = xxxxx sslpassword=xxxxx"},
		{"CREATE SUBSCRIPTION s CONNECTION 'host=src user=r password=s3cret dbname=d' PUBLICATION p",
			"CREATE SUBSCRIPTION s CONNECTION 'host=src user=r password=xxxxx dbname=d' PUBLICATION p"},
		{"copied from postgres://u:s3cret@src/db to postgres://u:other@dst/db",
			"copied from postgres://u:xxxxx@src/db to postgres://u:xxxxx@dst/db"},
		{"postgres://u@host/db", "postgres://u@host/db"},
		{"PGPASSWORD=s3cret pg_dump -h src", "PGPASSWORD=xxxxx pg_dump -h src"},
		{`{"host": "src", "Password": "s3\"cret"}`, `{"host": "src", "Password": "xxxxx"}`},
		{"postgres://u:pa:ss@host/db", "postgres://u:xxxxx@host/db"},
		{"no secrets here", "no secrets here"},
	} {
		if got := RedactString(tc.in); got != tc.want {
			t.Errorf("RedactString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScrub(t *testing.T) {
	s := New()
	s.SetResource(&Resource{Address: "a", Kind: "subscription", Attributes: map[string]any{
		"conninfo":        "host=src password=hunter2",
		"password_stored": false,
		"targets":         []any{"postgres://u:hunter2@dst/db", map[string]any{"dsn": "postgres://u:hunter2@x/y"}},
		"typed":           struct{ URL string }{"postgres://u:hunter2@z/db"},
	}})
	out, err := Scrub(s)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Encode(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "hunter2") {
		t.Fatalf("password left in scrubbed state:\n%s", data)
	}
	if !strings.Contains(s.Resource("a").Attributes["conninfo"].(string), "hunter2") {
		t.Fatal("Scrub changed its input")
	}
	for _, key := range []string{"password", "Passwd", "secret", "token", "source_password", "api-token", "client.secret"} {
		s := New()
		s.SetResource(&Resource{Address: "a", Attributes: map[string]any{"nested": map[string]any{key: "hunter2"}}})
		_, err := Scrub(s)
		var se *SecretError
		if !errors.As(err, &se) || se.Path != "nested."+key || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("key %q: error %v, want a *SecretError for nested.%s without the value", key, err, key)
		}
	}
	s = New()
	s.SetResource(&Resource{Address: "a", Attributes: map[string]any{"f": func() {}}})
	if _, err := Scrub(s); err == nil || !strings.Contains(err.Error(), "not JSON-able") {
		t.Fatalf("non-JSON attribute: %v", err)
	}
}

func TestRedactStringTrickyPasswords(t *testing.T) {
	for _, pw := range []string{"p@ss/w:rd", "with space", `qu'o\te`, "%41%", "ünï©ødé", "a&b=c?d#e", `"dq"`} {
		u := url.URL{Scheme: "postgresql", User: url.UserPassword("app", pw), Host: "db:5432", Path: "/myapp"}
		quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
		for _, in := range []string{
			u.String(),
			"host=db user=app password=" + quoted + " dbname=myapp",
			"CONNECTION 'host=db password=" + strings.ReplaceAll(quoted, "'", "''") + "'",
		} {
			out := RedactString(in)
			if strings.Contains(out, pw) || strings.Contains(out, url.UserPassword("", pw).String()[1:]) || !strings.Contains(out, Redacted) {
				t.Errorf("RedactString(%q) = %q still holds the password %q", in, out, pw)
			}
		}
	}
}
