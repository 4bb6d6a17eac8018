// Package endpoints resolves the source and target endpoints of a
// configuration once: each connection string is parsed a single time, and
// a string that does not parse is an error naming its endpoint
// ("source.prod: ..."), never dropped.
package endpoints

import (
	"errors"
	"fmt"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// Endpoint is one source or target a replication uses, with its parsed
// connection string.
type Endpoint struct {
	// Config is the configuration block.
	Config *lang.Endpoint
	// Info is the parsed connection string; zero when Err is set.
	Info conninfo.Info
	// Err is why the connection string did not parse (it names the
	// endpoint), nil when it did.
	Err error
}

// Address is the endpoint's reference form, e.g. "source.prod".
func (e Endpoint) Address() string { return e.Config.Address() }

// Set is the resolved endpoints of one configuration.
type Set struct {
	list   []Endpoint
	byAddr map[string]int
}

// Resolve parses the connection string of every endpoint a replication of
// cfg refers to, sources first, each once. The error joins one error per
// endpoint that does not parse, each naming the endpoint; the Set holds
// every endpoint either way (see Endpoint.Err), so that a caller such as
// validate can report each failure and go on with the others.
func Resolve(cfg *lang.Config) (*Set, error) {
	s := &Set{byAddr: map[string]int{}}
	var errs []error
	for _, ep := range Used(cfg) {
		e := Endpoint{Config: ep}
		info, err := conninfo.ParseURL(ep.URL)
		if err != nil {
			e.Err = fmt.Errorf("%s: %w", ep.Address(), err)
			errs = append(errs, e.Err)
		} else {
			e.Info = info
		}
		s.byAddr[ep.Address()] = len(s.list)
		s.list = append(s.list, e)
	}
	return s, errors.Join(errs...)
}

// Used lists the endpoints replications refer to, sources first, each
// once, in configuration order.
func Used(cfg *lang.Config) []*lang.Endpoint {
	var out []*lang.Endpoint
	seen := map[string]bool{}
	add := func(e *lang.Endpoint) {
		if e != nil && !seen[e.Address()] {
			seen[e.Address()] = true
			out = append(out, e)
		}
	}
	for _, r := range cfg.Replications {
		add(cfg.Sources[r.Source])
	}
	for _, r := range cfg.Replications {
		add(cfg.Targets[r.Target])
	}
	return out
}

// All returns every endpoint, sources first.
func (s *Set) All() []Endpoint { return s.list }

// Get returns the parsed connection string of the endpoint at address
// ("source.prod"), or an error naming it when it is unknown or did not
// parse.
func (s *Set) Get(address string) (conninfo.Info, error) {
	i, ok := s.byAddr[address]
	if !ok {
		return conninfo.Info{}, fmt.Errorf("%s: not an endpoint of any replication", address)
	}
	if err := s.list[i].Err; err != nil {
		return conninfo.Info{}, err
	}
	return s.list[i].Info, nil
}

// Source returns the parsed source connection string of r.
func (s *Set) Source(r *lang.Replication) (conninfo.Info, error) {
	return s.Get(string(lang.KindSource) + "." + r.Source)
}

// Target returns the parsed target connection string of r.
func (s *Set) Target(r *lang.Replication) (conninfo.Info, error) {
	return s.Get(string(lang.KindTarget) + "." + r.Target)
}

// Pair returns the parsed source and target connection strings of r.
func (s *Set) Pair(r *lang.Replication) (src, dst conninfo.Info, err error) {
	if src, err = s.Source(r); err != nil {
		return src, dst, err
	}
	dst, err = s.Target(r)
	return src, dst, err
}
