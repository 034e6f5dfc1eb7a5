// Package prepare makes a profile's data: it fetches a dataset, trains the
// BPE tokenizer on its training split and writes the pre-tokenized train and
// validation token files, then Meta, last (see harness/layout.go). It is what
// `autoresearch prepare` runs; training programs never import it.
//
// Terms:
//
//   - dataset: where text comes from, by name: synthetic, sotu, gutenberg,
//     climbmix, text:PATH, parquet:PATH.
//   - source document: a dataset's natural unit: a generated story, a speech,
//     a book, a file, a JSON line, a parquet row.
//   - document: what the token files hold, each starting with BOS. Except for
//     climbmix (kept whole, as in the original), source documents are cut at
//     paragraph, line, sentence or word boundaries into documents of at most
//     3 × MAX_SEQ_LEN bytes, so that packing crops little of them.
//   - split: which documents are held out for validation. It is pinned per
//     dataset, never random: climbmix's shard 06542; for sotu every 5th
//     speech in file-name order; for gutenberg the books austen-persuasion,
//     carroll-alice, chesterton-brown, shakespeare-macbeth and whitman-leaves;
//     for synthetic every 10th story; for text: and parquet: every 10th
//     document in order. Held-out speeches, books and stories are held out
//     whole. The pinned splits are large enough that evaluation (EVAL_TOKENS,
//     plus the loader's look-ahead of 1,000 documents) never reads a
//     validation document twice; prepare checks this and says when a user's
//     corpus is too small for it.
//
// All text is normalised before use: UTF-8 (text that is not valid UTF-8 is
// read as Latin-1), LF line ends, no byte-order mark.
package prepare
