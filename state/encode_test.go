package state

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func sampleState() *State {
	s := New()
	s.Lineage, s.Serial = "8a1d1e0c-6f7b-4c53-9a7e-0b8f3f7f2a10", 3
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.SetResource(&Resource{Address: `replication.main.table["myapp.public.users"]`, Kind: "table", Status: StatusDone, UpdatedAt: at,
		Attributes: map[string]any{"rows": 12, "columns": []any{"id", "email"}}})
	s.SetResource(&Resource{Address: `replication.main.database["myapp"]`, Kind: "database", Status: StatusCreated, UpdatedAt: at,
		Attributes: map[string]any{"name": "myapp"}})
	return s
}

func TestEncodeIsStable(t *testing.T) {
	want := `{
  "version": 1,
  "lineage": "8a1d1e0c-6f7b-4c53-9a7e-0b8f3f7f2a10",
  "serial": 3,
  "resources": [
    {
      "address": "replication.main.database[\"myapp\"]",
      "kind": "database",
      "status": "created",
      "updated_at": "2026-01-02T03:04:05Z",
      "attributes": {
        "name": "myapp"
      }
    },
    {
      "address": "replication.main.table[\"myapp.public.users\"]",
      "kind": "table",
      "status": "done",
      "updated_at": "2026-01-02T03:04:05Z",
      "attributes": {
        "columns": [
          "id",
          "email"
        ],
        "rows": 12
      }
    }
  ]
}
`
	for i := 0; i < 5; i++ {
		got, err := Encode(sampleState())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("Encode =\n%s\nwant\n%s", got, want)
		}
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	data, err := Encode(sampleState())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(data) {
		t.Fatalf("round trip changed the encoding:\n%s\n%s", data, again)
	}
	if s.Serial != 3 || s.Lineage != sampleState().Lineage || len(s.Resources) != 2 {
		t.Fatalf("decoded %+v", s)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"newer version", `{"version":2,"lineage":"l","serial":1,"resources":[],"new_field":true}`,
			"state format version 2 is newer than this binary supports (1): upgrade database-replicator"},
		{"no version", `{"lineage":"l","serial":1}`, "no format version"},
		{"not json", `lineage = "l"`, "invalid JSON"},
		{"unknown field", `{"version":1,"lineage":"l","serial":1,"resources":[],"outputs":{}}`, "unknown field"},
		{"duplicate", `{"version":1,"lineage":"l","serial":1,"resources":[{"address":"a"},{"address":"a"}]}`, "recorded twice"},
		{"no address", `{"version":1,"lineage":"l","serial":1,"resources":[{"kind":"x"}]}`, "no address"},
		{"trailing", `{"version":1,"lineage":"l","serial":1,"resources":[]} {}`, "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, tc.want)
			}
			if tc.name == "newer version" && !errors.Is(err, ErrNewerVersion) {
				t.Fatalf("error %v does not wrap ErrNewerVersion", err)
			}
		})
	}
}
