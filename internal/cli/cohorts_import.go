package cli

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"github.com/ramp-flags/ramp/internal/store"
)

// importOptions are the flags of `ramp cohorts import` and `diff`.
type importOptions struct {
	mode         string
	idColumn     string
	regionColumn string
	delimiter    string
	dryRun       bool
	allowEmpty   bool
	skipInvalid  bool
	rejects      string
	maxRows      int
	maxLineBytes int
}

func (o *importOptions) addFlags(cmd *cobra.Command, withMode bool) {
	fl := cmd.Flags()
	if withMode {
		fl.StringVar(&o.mode, "mode", "replace", "replace (the file is the whole list), add or remove")
		fl.BoolVar(&o.dryRun, "dry-run", false, "read the file and report what would change; write nothing")
		fl.BoolVar(&o.allowEmpty, "allow-empty", false, "let a replace with a file of no valid rows empty the cohort")
		fl.StringVar(&o.rejects, "rejects", "", "with --skip-invalid, write the invalid rows to this CSV file with their line and reason")
	}
	fl.BoolVar(&o.skipInvalid, "skip-invalid", false, "take the valid rows and skip invalid ones (see --rejects) instead of rejecting the file")
	fl.StringVar(&o.idColumn, "id-column", "", `column of user ids (default "user_id", else "id")`)
	fl.StringVar(&o.regionColumn, "region-column", "", `column of home regions (default "region", optional)`)
	fl.StringVar(&o.delimiter, "delimiter", "", `field delimiter: one character, or "tab" (default: detected from the header line: , ; tab or |, or Excel's "sep=" line)`)
	fl.IntVar(&o.maxRows, "max-rows", csvfile.DefaultMaxRows, "most data rows accepted in one file")
	fl.IntVar(&o.maxLineBytes, "max-line-bytes", csvfile.DefaultMaxLineBytes, "longest row accepted, in bytes (the lines of a quoted field count together)")
}

func (o *importOptions) csvOptions() (csvfile.Options, error) {
	opt := csvfile.Options{IDColumn: o.idColumn, RegionColumn: o.regionColumn, MaxRows: o.maxRows, MaxLineBytes: o.maxLineBytes}
	switch d := o.delimiter; {
	case d == "":
		// detected by csvfile
	case d == "tab" || d == `\t`:
		opt.Delimiter = '\t'
	case utf8.RuneCountInString(d) == 1:
		opt.Delimiter, _ = utf8.DecodeRuneInString(d)
	default:
		return opt, &UsageError{Err: fmt.Errorf("--delimiter %q: want one character", d)}
	}
	if o.rejects != "" && !o.skipInvalid {
		return opt, &UsageError{Err: errors.New("--rejects needs --skip-invalid")}
	}
	return opt, nil
}

// importFile is a CSV file being read for an import.
type importFile struct {
	name     string
	size     int64 // -1 when unknown (stdin, a pipe)
	in       io.ReadCloser
	hash     hashCounter
	rd       *csvfile.Reader
	rejects  *csv.Writer
	rejFile  *os.File
	rejected int
	closed   bool
}

// hashCounter hashes and counts the bytes read through it.
type hashCounter struct {
	r   io.Reader
	sum interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (h *hashCounter) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.sum.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func openImportFile(f *Factory, name string, o *importOptions) (*importFile, error) {
	opt, err := o.csvOptions()
	if err != nil {
		return nil, err
	}
	file := &importFile{name: name, size: -1}
	if name == "-" {
		file.in = io.NopCloser(f.IO.In)
	} else {
		fh, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		if st, err := fh.Stat(); err == nil && st.Mode().IsRegular() {
			file.size = st.Size()
		}
		file.in = fh
	}
	file.hash = hashCounter{r: file.in, sum: sha256.New()}
	if o.skipInvalid {
		opt.OnInvalid = file.reject
	}
	if file.rd, err = csvfile.NewReader(&file.hash, opt); err != nil {
		file.in.Close()
		return nil, csvError(name, err)
	}
	if o.rejects != "" {
		if file.rejFile, err = os.Create(o.rejects); err != nil {
			file.in.Close()
			return nil, err
		}
		file.rejects = csv.NewWriter(file.rejFile) // buffered
		header := append(append([]string{}, file.rd.Header()...), "line", "reason")
		for i := range header {
			header[i] = csvfile.SafeCell(header[i])
		}
		file.rejects.Write(header)
	}
	return file, nil
}

func (file *importFile) reject(p csvfile.Problem) error {
	file.rejected++
	if file.rejects == nil {
		return nil
	}
	rec := append([]string{}, p.Record...)
	if rec == nil {
		// A row that could not be parsed: empty fields keep the line and
		// reason under their headers.
		rec = make([]string, len(file.rd.Header()))
	}
	rec = append(rec, strconv.Itoa(p.Line), p.Reason)
	for i := range rec {
		rec[i] = csvfile.SafeCell(rec[i]) // the rejects are for a spreadsheet
	}
	return file.rejects.Write(rec)
}

// next returns the next member for the store.
func (file *importFile) next() (cohorts.Member, error) {
	row, err := file.rd.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return cohorts.Member{}, io.EOF
		}
		return cohorts.Member{}, csvError(file.name, err)
	}
	return row.Member, nil
}

// finish reads what is left of the file (a gzip trailer) and returns its
// checksum and how many rows were rejected.
func (file *importFile) finish() (string, int, error) {
	if _, err := io.Copy(io.Discard, &file.hash); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(file.hash.sum.Sum(nil)), file.rejected, nil
}

func (file *importFile) close() error {
	if file.closed {
		return nil
	}
	file.closed = true
	err := file.in.Close()
	if file.rejects != nil {
		file.rejects.Flush()
		err = errors.Join(err, file.rejects.Error(), file.rejFile.Close())
	}
	return err
}

// csvError marks the reader's errors about the file's content as invalid
// input.
func csvError(name string, err error) error {
	var (
		ie *csvfile.InvalidError
		fe *csvfile.FormatError
		le *csvfile.LimitError
	)
	if errors.As(err, &ie) || errors.As(err, &fe) || errors.As(err, &le) {
		return &InvalidError{fmt.Errorf("%s: %w", name, err)}
	}
	return fmt.Errorf("%s: %w", name, err)
}

func newCohortsImportCmd(f *Factory) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import COHORT FILE",
		Short: "Import a cohort's member list from a CSV file, atomically",
		Long: `Import user ids (and home regions) from a CSV file with a header row into a
cohort's member list, creating the cohort if it does not exist (replace and add
modes; removing from an unknown cohort fails). FILE may be
"-" for stdin and may be gzip-compressed.

Columns are found by name, case-insensitively: ids in "user_id" (else "id")
unless --id-column names another, regions in "region" unless --region-column
names another; other columns are ignored. The import is one transaction:
interrupted at any point, the cohort keeps its previous members.

By default one invalid row (empty or over-long id, invalid UTF-8, control,
bidirectional or zero-width characters, unknown region, wrong number of
fields) rejects the whole file
and nothing is written; --skip-invalid imports the valid rows and writes the
others to --rejects.`,
		Example: `  ramp cohorts import beta-testers testers.csv
  ramp cohorts import beta-testers more.csv --mode add
  gzip -dc export.csv.gz | ramp cohorts import territory-fr - --delimiter ';' --id-column uid
  ramp cohorts import beta-testers testers.csv --skip-invalid --rejects rejects.csv`,
		Args: exactArgs(2, "a cohort key and a file"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return []string{"csv", "gz"}, cobra.ShellCompDirectiveFilterFileExt
			}
			return completeCohortKeys(cmd, f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, err := store.ParseImportMode(o.mode)
			if err != nil {
				return &UsageError{Err: fmt.Errorf("--mode: %w", err)}
			}
			res, took, err := runImport(cmd, f, args[0], args[1], &o, store.ImportOptions{Mode: mode, DryRun: o.dryRun, AllowEmpty: o.allowEmpty})
			if err != nil {
				return err
			}
			printImportSummary(f.IO.ErrOut, args[0], mode, res, took)
			return nil
		},
	}
	o.addFlags(cmd, true)
	return cmd
}

func newCohortsDiffCmd(f *Factory) *cobra.Command {
	var o importOptions
	var show int
	cmd := &cobra.Command{
		Use:   "diff COHORT FILE",
		Short: "Show what importing a CSV file would add to and remove from a cohort",
		Long: `Compare a CSV file, read as ramp cohorts import reads it, with a cohort's
member list: print the ids a replace would add (+) and remove (-), up to
--show of each, and the counts. Nothing is written.`,
		Example: `  ramp cohorts diff beta-testers testers.csv
  ramp cohorts diff beta-testers testers.csv --show 0`,
		Args: exactArgs(2, "a cohort key and a file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, _, err := runImport(cmd, f, args[0], args[1], &o, store.ImportOptions{Mode: store.ImportReplace, DryRun: true, Samples: show, AllowEmpty: true})
			if err != nil {
				return err
			}
			w := bufio.NewWriter(f.IO.Out)
			for _, id := range res.AddedSample {
				fmt.Fprintf(w, "+ %s\n", id)
			}
			for _, id := range res.RemovedSample {
				fmt.Fprintf(w, "- %s\n", id)
			}
			if res.Created {
				fmt.Fprintf(w, "cohort %s does not exist: an import would create it\n", args[0])
			}
			fmt.Fprintf(w, "%s to add, %s to remove, %s region changes, %s unchanged\n",
				thousands(res.Added), thousands(res.Removed), thousands(res.Updated), thousands(res.Unchanged))
			if more := res.Added - len(res.AddedSample) + res.Removed - len(res.RemovedSample); more > 0 && show > 0 {
				fmt.Fprintf(w, "(%s more ids not shown; raise --show)\n", thousands(more))
			}
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&show, "show", 20, "how many added and removed ids to print, at most, of each")
	o.addFlags(cmd, false)
	return cmd
}

// runImport reads the file into the store (or, for a dry run, through it).
func runImport(cmd *cobra.Command, f *Factory, key, name string, o *importOptions, opt store.ImportOptions) (store.ImportResult, time.Duration, error) {
	if err := cohorts.ValidateKey(key); err != nil {
		return store.ImportResult{}, 0, &UsageError{Err: fmt.Errorf("cohort %w", err)}
	}
	start := time.Now()
	file, err := openImportFile(f, name, o)
	if err != nil {
		return store.ImportResult{}, 0, err
	}
	defer file.close()
	opt.File = name
	if name != "-" {
		if abs, err := filepath.Abs(name); err == nil {
			opt.File = abs
		}
	}
	opt.Finish = file.finish
	bar := newProgress(f.IO, file.size, func() int64 { return file.hash.n })
	var readErr error // the file's, reported as is rather than as the store's
	next := func() (cohorts.Member, error) {
		m, err := file.next()
		bar.add(err == nil)
		if err != nil && !errors.Is(err, io.EOF) {
			readErr = err
		}
		return m, err
	}
	var res store.ImportResult
	err = f.withStore(cmd.Context(), func(s *store.Store) error {
		var err error
		res, err = s.ImportMembers(cmd.Context(), key, opt, next, f.Actor)
		return err
	})
	bar.finish()
	if err != nil && readErr != nil {
		return res, 0, readErr
	}
	if err != nil {
		return res, 0, err
	}
	if err := file.close(); err != nil {
		return res, 0, err
	}
	return res, time.Since(start), nil
}

func printImportSummary(w io.Writer, key string, mode store.ImportMode, res store.ImportResult, took time.Duration) {
	prefix := ""
	if res.DryRun {
		prefix = "dry run, nothing written: "
	}
	if res.Created {
		verb := "created"
		if res.DryRun {
			verb = "would be created"
		}
		fmt.Fprintf(w, "%scohort %s did not exist and %s\n", prefix, key, verb)
	}
	fmt.Fprintf(w, "%s%s (%s): %s rows, %s added, %s removed, %s region changes, %s unchanged, %s duplicates, %s rejected; %s members now (%.1fs)\n",
		prefix, key, mode, thousands(res.Rows), thousands(res.Added), thousands(res.Removed), thousands(res.Updated),
		thousands(res.Unchanged), thousands(res.Duplicates), thousands(res.Rejected), thousands(res.Members), took.Seconds())
	if len(res.ByRegion) == 0 {
		return
	}
	regions := make([]cohorts.Region, 0, len(res.ByRegion))
	for r := range res.ByRegion {
		regions = append(regions, r)
	}
	sort.Slice(regions, func(i, j int) bool {
		if res.ByRegion[regions[i]] != res.ByRegion[regions[j]] {
			return res.ByRegion[regions[i]] > res.ByRegion[regions[j]]
		}
		return regions[i] < regions[j]
	})
	parts := make([]string, 0, len(regions))
	for i, r := range regions {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("%d more", len(regions)-10))
			break
		}
		name := string(r)
		if name == "" {
			name = "(unknown)"
		}
		parts = append(parts, name+" "+thousands(res.ByRegion[r]))
	}
	fmt.Fprintf(w, "  by region: %s\n", strings.Join(parts, ", "))
}

func newCohortsExportCmd(f *Factory) *cobra.Command {
	var out string
	var raw bool
	cmd := &cobra.Command{
		Use:   "export COHORT",
		Short: "Write a cohort's member list as CSV (user_id,region)",
		Long: `Write a cohort's listed members as CSV with a header, user_id,region, sorted
by id: the file re-imports to the same list. Members stream from the
database; a FILE ending in .gz is gzip-compressed.

The file is safe to open in a spreadsheet: an id that starts with = + - or @
(a formula, or an id such as -123 or +4915112345678) is written with a single
quote before it, '=1+1, so that the spreadsheet shows it as text instead of
running it (CSV injection). ramp cohorts import and diff take that quote off
again: an id that itself starts with quotes before one of those characters
gets one more ('=x is written ''=x), so the file re-imports exactly. --raw
writes ids as they are, for programs rather than spreadsheets.`,
		Example: `  ramp cohorts export beta-testers > testers.csv
  ramp cohorts export beta-testers -o testers.csv.gz
  ramp cohorts export beta-testers --raw | my-loader`,
		Args: exactArgs(1, "one cohort key"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeCohortKeys(cmd, f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			var w io.Writer = f.IO.Out
			var closers []func() error
			if out != "" && out != "-" {
				tmp, err := os.CreateTemp(filepath.Dir(out), ".ramp-export-*")
				if err != nil {
					return err
				}
				defer func() {
					if err != nil {
						tmp.Close()
						os.Remove(tmp.Name())
					}
				}()
				w = tmp
				closers = append(closers, tmp.Close, func() error { return os.Rename(tmp.Name(), out) })
				if strings.HasSuffix(out, ".gz") {
					zw := gzip.NewWriter(tmp)
					w = zw
					closers = append([]func() error{zw.Close}, closers...)
				}
			}
			bw := bufio.NewWriterSize(w, 64<<10)
			cw := csvfile.NewWriter(bw, csvfile.WriterOptions{Raw: raw})
			n := 0
			err = f.withStore(cmd.Context(), func(s *store.Store) error {
				return s.EachMember(cmd.Context(), args[0], func(m cohorts.Member) error {
					n++
					return cw.Write(m)
				})
			})
			if err != nil {
				return err
			}
			if err := cw.Flush(); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			for _, c := range closers {
				if err := c(); err != nil {
					return err
				}
			}
			if out != "" && out != "-" {
				fmt.Fprintf(f.IO.ErrOut, "%s: %s written to %s\n", args[0], plural(n, "member", "members"), out)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of stdout (.gz: compressed)")
	cmd.Flags().BoolVar(&raw, "raw", false, "write ids as they are, without the quote that keeps a spreadsheet from running = + - @ as a formula")
	return cmd
}
