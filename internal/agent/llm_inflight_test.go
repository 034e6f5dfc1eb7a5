package agent

import (
	"strings"
	"testing"

	"autoresearch/internal/task"
)

// The prompt lists the changes other workers are measuring, so the model
// does not propose them again; with none in flight it says nothing of them.
func TestPromptListsChangesInFlight(t *testing.T) {
	req := Request{N: 5, Task: task.Task{Editable: []string{"gpt/train.go"}, Metric: task.Metric{Name: "val_bpb", LowerIsBetter: true}},
		InFlight: []string{"raise MATRIX_LR to 0.05", "DEPTH 8 -> 9"}}
	p := userPrompt(req, map[string]string{"gpt/train.go": "package main\n"}, 0, nil, "")
	i := strings.Index(p, "# In flight")
	if i < 0 || !strings.Contains(p[i:], "- raise MATRIX_LR to 0.05\n- DEPTH 8 -> 9\n") || !strings.Contains(p[i:], "do not propose them again") {
		t.Fatalf("the prompt does not list the changes in flight:\n%s", p)
	}
	req.InFlight = nil
	if p := userPrompt(req, map[string]string{"gpt/train.go": "package main\n"}, 0, nil, ""); strings.Contains(p, "In flight") {
		t.Errorf("a prompt with nothing in flight mentions it:\n%s", p)
	}
}
