package report

import (
	"encoding/json"
	"path/filepath"
	"sort"

	"autoresearch/internal/cost"
	"autoresearch/internal/gitops"
	"autoresearch/internal/runs"
)

// Page is everything the HTML report shows of a run, read from its folder:
// the results with their analysis, run.json, every experiment's record and
// its change against its parent from the run's clone.
type Page struct {
	Dir      string // the run folder: the results file's folder
	Tag      string // the run's tag (the folder's name without a run.json)
	Analysis *Analysis
	Info     RunInfo
	// Records and Patches are parallel to Analysis.Rows; a row without a
	// record (a results file on its own) has a nil one.
	Records   []*Record
	Patches   []Patch
	Usage     *Usage
	Proposers []ProposerUse
}

// Patch is an experiment's change against the commit it started from, as
// git diff prints it; Why says why there is none.
type Patch struct {
	Text, Why string
}

// ProposerUse is what one proposer (the sweep, or llm:<model>) did and
// spent over a run, abandoned attempts included.
type ProposerUse struct {
	Name                           string
	Experiments                    int
	PromptTokens, CompletionTokens int64
	ToolCalls                      int
	priced                         []linePrice // each record's tokens and prices, for Cost
}

// Cost is what the proposer's tokens cost under p; false when some have no
// price.
func (u ProposerUse) Cost(p cost.Pricing) (float64, bool) {
	total, ok := 0.0, true
	for _, l := range u.priced {
		c, priced := p.Of(l.prices, l.prompt, l.completion)
		total, ok = total+c, ok && priced
	}
	return total, ok
}

// LoadPage reads the run whose results file is resultsPath, for a metric of
// the given direction.
func LoadPage(resultsPath string, lowerIsBetter bool) (*Page, error) {
	return loadPage(resultsPath, lowerIsBetter, nil)
}

// patchCache keeps the patches of a watched run between rewrites: a
// commit's change never changes.
type patchCache map[[2]string]Patch

func loadPage(resultsPath string, lowerIsBetter bool, cache patchCache) (*Page, error) {
	a, err := AnalyzeRun(resultsPath, lowerIsBetter)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(resultsPath)
	p := &Page{Dir: dir, Analysis: a, Tag: filepath.Base(dir)}
	if p.Info, err = ReadRunInfo(dir); err != nil {
		return nil, err
	}
	if p.Info.Tag != "" {
		p.Tag = p.Info.Tag
	}
	if p.Records, p.Proposers, err = readRecords(dir, len(a.Rows)); err != nil {
		return nil, err
	}
	if p.Usage, err = ReadUsage(filepath.Join(dir, runs.ExperimentsFile)); err != nil {
		return nil, err
	}
	p.Patches = patches(dir, p.Records, cache)
	return p, nil
}

// readRecords reads the experiments.jsonl of the run folder dir: the record
// of each of the n rows of results.tsv (nil where there is none), and what
// each proposer spent. Abandoned and interrupted lines share their number
// with the experiment that follows them: they count for their proposer but
// are no row's record. Unreadable lines are skipped.
func readRecords(dir string, n int) ([]*Record, []ProposerUse, error) {
	recs := make([]*Record, n)
	use := map[string]*ProposerUse{}
	err := eachRecord(filepath.Join(dir, runs.ExperimentsFile), func(line []byte) {
		var r Record
		if json.Unmarshal(line, &r) != nil {
			return
		}
		if r.Proposer != "" {
			u := use[r.Proposer]
			if u == nil {
				u = &ProposerUse{Name: r.Proposer}
				use[r.Proposer] = u
			}
			u.PromptTokens += int64(r.PromptTokens)
			u.CompletionTokens += int64(r.Completion)
			u.ToolCalls += r.ToolCalls
			if r.PromptTokens+r.Completion > 0 {
				u.priced = append(u.priced, linePrice{prices: r.Prices, prompt: int64(r.PromptTokens), completion: int64(r.Completion)})
			}
			if r.valid() {
				u.Experiments++
			}
		}
		if r.valid() && r.N >= 0 && r.N < n {
			recs[r.N] = &r
		}
	})
	var list []ProposerUse
	for _, u := range use {
		list = append(list, *u)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return recs, list, err
}

// patches reads each experiment's change from the run's clone, where every
// experiment's commit is kept (see runs.ExperimentRef), as "autoresearch
// show" does.
func patches(dir string, recs []*Record, cache patchCache) []Patch {
	out := make([]Patch, len(recs))
	repo, openErr := gitops.Open(filepath.Join(dir, runs.WorktreeDir))
	for n, r := range recs {
		switch {
		case n == 0:
			out[n].Why = "the baseline is the repository's commit as it was: it changes nothing"
		case r == nil:
			out[n].Why = "experiments.jsonl has no record of it"
		case r.Commit == "":
			out[n].Why = "the change was rejected before it was committed"
			if r.Reason != "" {
				out[n].Why += " (" + r.Reason + ")"
			}
		case r.Parent == "":
			out[n].Why = "experiments.jsonl does not say which commit it started from"
		case openErr != nil:
			out[n].Why = "the run's clone cannot be opened: " + openErr.Error()
		default:
			key := [2]string{r.Parent, r.Commit}
			if p, ok := cache[key]; ok {
				out[n] = p
				continue
			}
			out[n] = patch(repo, r.Parent, r.Commit)
			if cache != nil {
				cache[key] = out[n]
			}
		}
	}
	return out
}

func patch(repo *gitops.Repo, parent, commit string) Patch {
	if !repo.HasCommit(commit) || !repo.HasCommit(parent) {
		return Patch{Why: "its commit is no longer in the run's clone (a discarded change of a run made before every experiment's commit was kept)"}
	}
	text, err := repo.Patch(parent, commit)
	switch {
	case err != nil:
		return Patch{Why: "git could not diff it: " + err.Error()}
	case text == "":
		return Patch{Why: "its commit changes nothing"}
	}
	return Patch{Text: text}
}
