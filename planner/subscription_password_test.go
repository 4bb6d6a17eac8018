package planner

import (
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// TestStoresSubscriptionPassword: only a password written in the source
// URL is stored, and only with subscription_password = "url"; one from
// PGPASSWORD never is.
func TestStoresSubscriptionPassword(t *testing.T) {
	t.Setenv("PGPASSWORD", "from-the-environment")
	for _, tt := range []struct {
		url     string
		setting lang.SubscriptionPassword
		want    bool
	}{
		{"postgres://u:secret@db.internal/app", lang.SubscriptionPasswordURL, true},
		{"postgres://u:secret@db.internal/app", lang.SubscriptionPasswordNone, false},
		{"postgres://u@db.internal/app", lang.SubscriptionPasswordURL, false},
		{"host=db.internal user=u password=secret", lang.SubscriptionPasswordURL, true},
	} {
		info, err := conninfo.ParseURL(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if info.Password() == "" {
			t.Fatalf("%s: this machine resolves no password; the case proves nothing", tt.url)
		}
		r := &lang.Replication{Sync: lang.DefaultSync()}
		r.Sync.SubscriptionPassword = tt.setting
		if got := StoresSubscriptionPassword(r, info); got != tt.want {
			t.Errorf("%s with %q: stores %v, want %v", tt.url, tt.setting, got, tt.want)
		}
		// The connection string holds a password exactly when stored.
		if with := conninfo.SubscriptionConnString(info, tt.want); (with != conninfo.SubscriptionConnString(info, false)) != tt.want {
			t.Errorf("%s: the connection string holds a password: %v, want %v", tt.url, !tt.want, tt.want)
		}
	}
}
