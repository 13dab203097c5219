package provider

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/wire"
)

// errSetGone is a member set the server no longer serves: the lists
// changed after the snapshot that names it was read.
var errSetGone = errors.New("the server no longer serves that member set")

// maxSetAttempts is how many times a fetch reads the snapshot again when a
// set it names is gone, before it gives up until the next sync.
const maxSetAttempts = 4

// fromManifest builds a snapshot from a wire.FormatV2 manifest: each
// cohort's member set is the one held under the same ID, or is fetched
// (GET /v1/snapshot/sets/{id}) and decoded as it streams in, straight into
// the set's table. The IDs name the sets' contents, and each set fetched
// is checked against its ID, so a snapshot is built from the sets it
// names and no other; a set the server stopped serving (the lists changed
// meanwhile) fails the fetch with errSetGone.
func (p *Provider) fromManifest(ctx context.Context, held *loaded, raw []byte) (*loaded, func(io.Writer) error, error) {
	m, err := wire.DecodeManifest(raw)
	if err != nil {
		return nil, nil, err
	}
	if !supersedes(held, m.Version, m.Epoch) {
		return &loaded{version: m.Version, epoch: m.Epoch}, nil, nil
	}
	got := make(map[string]*cohorts.Set, len(m.Sets))
	for _, key := range sortedKeys(m.Sets) {
		id := m.Sets[key]
		set := got[id]
		if set == nil && held != nil {
			set = held.sets[id]
		}
		if set == nil {
			if set, err = p.fetchSet(ctx, id); err != nil {
				return nil, nil, fmt.Errorf("cohort %s: %w", key, err)
			}
		}
		got[id] = set
		m.State.MemberSets[key] = set
	}
	snap, err := flags.Compile(m.State, m.Version)
	if err != nil {
		return nil, nil, fmt.Errorf("decode snapshot: %w", err)
	}
	l := newLoadedSets(snap, m.Epoch, m.Sets)
	return l, func(w io.Writer) error { return writeBundle(w, raw, &m.State, m.Sets) }, nil
}

// fetchSet downloads and decodes one member set.
func (p *Provider) fetchSet(ctx context.Context, id string) (*cohorts.Set, error) {
	req, err := p.request(ctx, "/v1/snapshot/sets/"+url.PathEscape(id))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", wire.SetContentType)
	resp, err := p.cfg.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch member set: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("fetch member set %s: %w", id, errSetGone)
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("fetch member set: %w", statusError(resp))
	}
	set, err := wire.DecodeSet(resp.Body, resp.ContentLength, id)
	if err != nil {
		return nil, fmt.Errorf("fetch member set: %w", err)
	}
	return set, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// The cache file of a provider that reads wire.FormatV2 is a bundle: the
// manifest on its first line (JSON as the server sent it, which has no
// raw newline), then each cohort's set in wire.SetFormat, in the
// manifest's cohort order, one after the other. A wire.Format document
// (from an older server, or written by an older provider) is read as it
// is.

// writeBundle writes a manifest and the sets it names; it allocates
// nothing in proportion to the sets.
func writeBundle(w io.Writer, manifest []byte, st *flags.State, ids map[string]string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.Write(manifest); err != nil {
		return err
	}
	if err := bw.WriteByte('\n'); err != nil {
		return err
	}
	for _, c := range st.Cohorts {
		if _, ok := ids[c.Key]; !ok {
			continue
		}
		if _, err := wire.EncodeSet(bw, st.MemberSets[c.Key]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// readSnapshot decodes a snapshot file: a wire.Format document or a
// bundle. size is the file's size.
func readSnapshot(r io.Reader, size int64) (*loaded, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.ReadBytes('\n')
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		return nil, err
	case err == nil && !bytes.HasPrefix(bytes.TrimSpace(head), []byte("{")):
		return nil, errors.New("decode snapshot: not a snapshot document")
	}
	if format, _ := wire.FormatOf(head); format == wire.FormatV2 {
		m, err := wire.DecodeManifest(head)
		if err != nil {
			return nil, err
		}
		return bundleSets(m, br, size)
	}
	// A whole document, maybe followed by a newline and more.
	rest, err := io.ReadAll(br)
	if err != nil {
		return nil, err
	}
	snap, epoch, err := wire.DecodeEpoch(append(head, rest...))
	if err != nil {
		return nil, err
	}
	return newLoaded(snap, epoch), nil
}

// bundleSets reads the sets a manifest names, in its cohort order, and
// compiles the snapshot.
func bundleSets(m *wire.Manifest, br *bufio.Reader, size int64) (*loaded, error) {
	byID := make(map[string]*cohorts.Set, len(m.Sets))
	for _, c := range m.State.Cohorts {
		id, ok := m.Sets[c.Key]
		if !ok {
			continue
		}
		set, err := wire.DecodeSet(br, size, id)
		if err != nil {
			return nil, fmt.Errorf("cohort %s: %w", c.Key, err)
		}
		byID[id] = set
		m.State.MemberSets[c.Key] = set
	}
	if _, err := br.ReadByte(); err == nil {
		return nil, errors.New("decode snapshot: data after the last member set")
	}
	snap, err := flags.Compile(m.State, m.Version)
	if err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	return newLoadedSets(snap, m.Epoch, m.Sets), nil
}
