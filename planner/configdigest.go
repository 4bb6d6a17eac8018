package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/hashicorp/hcl/v2"
)

// ConfigDigest is a digest of the configuration's meaning: reformatting
// or comments do not change it; any setting does. Secrets only enter it
// hashed.
func ConfigDigest(cfg *lang.Config) string {
	type endpoint struct{ Kind, Name, URL string }
	type digestable struct {
		Endpoints    []endpoint
		Replications []lang.Replication
		State        lang.StateConfig
	}
	var d digestable
	for _, m := range []map[string]*lang.Endpoint{cfg.Sources, cfg.Targets} {
		for _, e := range m {
			d.Endpoints = append(d.Endpoints, endpoint{string(e.Kind), e.Name, e.URL})
		}
	}
	sort.Slice(d.Endpoints, func(i, j int) bool {
		return d.Endpoints[i].Kind+"."+d.Endpoints[i].Name < d.Endpoints[j].Kind+"."+d.Endpoints[j].Name
	})
	for _, r := range cfg.Replications {
		c := *r
		c.DeclRange = zeroRange
		c.Tables = nil
		for _, t := range r.Tables {
			tc := *t
			tc.DeclRange = zeroRange
			c.Tables = append(c.Tables, &tc)
		}
		c.Schemas = nil
		for _, sc := range r.Schemas {
			cp := *sc
			cp.DeclRange = zeroRange
			c.Schemas = append(c.Schemas, &cp)
		}
		d.Replications = append(d.Replications, c)
	}
	if cfg.State != nil {
		d.State = *cfg.State
		d.State.DeclRange = zeroRange
	}
	b, _ := json.Marshal(d)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var zeroRange hcl.Range
