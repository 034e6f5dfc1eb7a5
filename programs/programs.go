// Package programs holds the research programs: the human's instructions to
// the agent, in Markdown. program.md is the built-in GPT task's. The binary
// carries it, so that a run of the GPT task in a repository without
// programs/program.md still has its instructions; --program, or a task
// file's program key, names another.
package programs

import _ "embed"

// Default is the text of program.md.
//
//go:embed program.md
var Default string
