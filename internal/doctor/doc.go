// Package doctor checks whether this machine can run autoresearch, one check
// a line: the Go toolchain, the GPU, the prepared data of each profile, free
// disk, and the LLM endpoint and its key.
//
// Each check ends at a level:
//
//   - OK: the requirement is met.
//   - Note: something is missing that a run can do without (no GPU for the
//     smoke or cpu profile, the data of a profile not in use, no key for a
//     local LLM server, an LLM problem when the sweep agent needs none).
//   - Problem: a run would fail; the message names the fix.
//
// What a run needs depends on its profile (AUTORESEARCH_PROFILE, default
// smoke) and agent (llm by default): the profile's data must be prepared,
// the gpu profile needs a GPU, and the llm agent needs its endpoint and,
// unless the endpoint is on this machine, a key. Less than 1 GiB of free
// disk in AUTORESEARCH_HOME or the repository is a problem, less than 5 GiB
// a note.
//
// Every outside dependency comes through Env, so the checks run in tests
// without a GPU, a network or a toolchain.
package doctor
