package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/wire"
)

// setSource is the optional side of a Source that versions member lists
// (ramp.Config.SetVersions) and can skip reading those the server holds
// (admin.Service, over store.Store.ConfigurationReusing).
type setSource interface {
	ConfigurationReusing(ctx context.Context, reuse func(cohort string, version int64) *cohorts.Set) (ramp.Config, error)
}

// servedSet is one member set as the server holds it across reloads: built
// once per (cohort, members version), named by its content (wire.SetID),
// and encoded for the feed (wire.EncodeSet) the first time a provider asks
// for it, then kept while a configuration being served refers to it.
type servedSet struct {
	id  string
	set *cohorts.Set
	enc *encodedSet // shared by the servedSets of one ID
}

// encodedSet is a set's wire.SetFormat bytes, made on first use.
type encodedSet struct {
	once sync.Once
	b    []byte
	err  error
}

// encoded returns the set in wire.SetFormat, encoding it on first use.
func (s *servedSet) encoded() ([]byte, error) {
	s.enc.once.Do(func() {
		var buf bytes.Buffer
		buf.Grow(s.set.Len()*11/2 + 64)
		_, s.enc.err = wire.EncodeSet(&buf, s.set)
		s.enc.b = buf.Bytes()
	})
	return s.enc.b, s.enc.err
}

// cohortSet is a cohort's set in a configuration served, with the
// cohort's members version (0 when the source has none).
type cohortSet struct {
	version int64
	*servedSet
}

// lazyDoc is a document made on first use and kept.
type lazyDoc struct {
	mu   sync.Mutex
	done bool
	b    []byte
	err  error
}

// get returns the document, making it with make on first use; concurrent
// callers wait for the one making it.
func (d *lazyDoc) get(make func() ([]byte, error)) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.done {
		d.b, d.err = make()
		d.done = true
	}
	return d.b, d.err
}

// size is the size of the document if it was made, else 0.
func (d *lazyDoc) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.b)
}

// readConfiguration reads the source's configuration, reusing the sets
// old holds when the source versions member lists. Sets are reused only
// within one database: versions of another (another epoch) name other
// lists, so a read that finds a new epoch after reusing reads again
// without.
func (l *live) readConfiguration(ctx context.Context, old *loaded) (cfg ramp.Config, reused int, err error) {
	rs, ok := l.src.(setSource)
	if !ok {
		cfg, err = l.src.Configuration(ctx)
		return cfg, 0, err
	}
	reuse := func(key string, version int64) *cohorts.Set {
		if old == nil {
			return nil
		}
		if s, ok := old.byCohort[key]; ok && s.version == version && version != 0 {
			reused++
			return s.set
		}
		return nil
	}
	cfg, err = rs.ConfigurationReusing(ctx, reuse)
	if err == nil && reused > 0 && cfg.Revision.Epoch != old.epoch {
		reused = 0
		cfg, err = rs.ConfigurationReusing(ctx, nil)
	}
	return cfg, reused, err
}

// serveSets names and keeps the member sets of a compiled state: a set
// held by old for the same cohort (the same *cohorts.Set, reused by
// readConfiguration) keeps its servedSet, encoded bytes included, and so
// does a set old holds under the same ID (another cohort's, or a list
// restored); others are named here, once. It returns the sets by cohort
// and by ID, and the bytes of the tables built anew.
func serveSets(st *flags.State, versions map[string]int64, old *loaded) (byCohort map[string]cohortSet, byID map[string]*servedSet, built int) {
	byCohort = make(map[string]cohortSet, len(st.MemberSets))
	byID = make(map[string]*servedSet, len(st.MemberSets))
	for _, c := range st.Cohorts {
		set := st.MemberSets[c.Key]
		if set.Len() == 0 {
			continue
		}
		var s *servedSet
		if old != nil {
			if o, ok := old.byCohort[c.Key]; ok && o.set == set {
				s = o.servedSet
			}
		}
		if s == nil {
			id := wire.SetID(set)
			switch {
			case byID[id] != nil:
				s = byID[id] // two cohorts with the same members
			case old != nil && old.sets[id] != nil:
				// The same members read again (another cohort's, a
				// list restored, another epoch): the snapshot's set,
				// so that the old one can go, with the bytes made.
				s = &servedSet{id: id, set: set, enc: old.sets[id].enc}
			default:
				s = &servedSet{id: id, set: set, enc: &encodedSet{}}
				built += set.SizeBytes()
			}
		}
		byCohort[c.Key] = cohortSet{versions[c.Key], s}
		byID[s.id] = s
	}
	return byCohort, byID, built
}

// setsFromMembers builds the set of each cohort whose members st lists as
// ids (a source that does not hash them), so that every list is served
// as a set.
func setsFromMembers(st *flags.State) {
	cloned := false
	for _, c := range st.Cohorts {
		if len(c.Members) == 0 || st.MemberSets[c.Key] != nil {
			continue
		}
		ids := make([]string, len(c.Members))
		for i, m := range c.Members {
			ids[i] = m.ID
		}
		if !cloned { // the source's map is not ours to change
			st.MemberSets, cloned = maps.Clone(st.MemberSets), true
			if st.MemberSets == nil {
				st.MemberSets = make(map[string]*cohorts.Set)
			}
		}
		st.MemberSets[c.Key] = cohorts.NewSet(ids)
	}
}

// manifestIDs returns the set ID of each cohort with members.
func manifestIDs(byCohort map[string]cohortSet) map[string]string {
	ids := make(map[string]string, len(byCohort))
	for k, s := range byCohort {
		ids[k] = s.id
	}
	return ids
}

// wantsManifest reports whether a snapshot request says it understands
// wire.FormatV2 (the query parameter format=2).
func wantsManifest(r *http.Request) bool {
	for _, f := range r.URL.Query()["format"] {
		if f == "2" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// gzipMin is the size from which the manifest is sent compressed to
// clients that take gzip: below it, compression saves less than a packet.
const gzipMin = 1400

func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// snapshotSet answers GET /v1/snapshot/sets/{id}: a member set of the
// configuration being served, by its ID (wire.SetID), in wire.SetFormat.
// The body of an ID never changes, so it may be cached for good. An ID
// the configuration being served does not refer to (the list changed
// since the provider read its snapshot) is 404: the provider reads the
// snapshot again.
func (s *Server) snapshotSet(w http.ResponseWriter, r *http.Request) {
	cur := s.live.current()
	id := r.PathValue("id")
	set := cur.sets[id]
	if set == nil {
		writeJSON(w, http.StatusNotFound, struct {
			ErrorCode    string `json:"errorCode"`
			ErrorDetails string `json:"errorDetails"`
		}{"SET_NOT_SERVED", "the configuration being served (version " + strconv.FormatInt(cur.version, 10) + ") has no member set " + strconv.Quote(id) + ": read the snapshot again"})
		return
	}
	b, err := set.encoded()
	if err != nil {
		s.log.Error("encode member set", "set", id, "err", err)
		writeJSON(w, http.StatusInternalServerError, struct {
			ErrorDetails string `json:"errorDetails"`
		}{"cannot encode the member set"})
		return
	}
	h := w.Header()
	h.Set("ETag", `"`+id+`"`)
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	if etagMatch(r.Header.Get("If-None-Match"), `"`+id+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	extra := time.Duration(len(b)>>20) * time.Second
	_ = http.NewResponseController(w).SetWriteDeadline(s.cfg.Now().Add(s.cfg.WriteTimeout + extra))
	h.Set("Content-Type", wire.SetContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
