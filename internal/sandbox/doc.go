// Package sandbox confines one run of a training program, the code an agent
// wrote, so that a research run is safe to leave alone overnight. Its terms:
//
//   - policy: what a run may do. Read (no execute) the system's libraries, the
//     worktree, the data home and, for cuda, the toolkit and the kernel cache;
//     read and write its scratch folder only; execute its own program (and
//     that program's loader or interpreter) only; use the GPU's device files;
//     stay under the limits on memory, processes and open files.
//   - launcher: this package, running as the hidden subcommand sandbox-exec of
//     whatever binary imports it (Wrap builds the command line). Landlock and
//     namespaces must be set up by the process that then executes the
//     program, and Go cannot run code between fork and exec, so the launcher
//     re-executes itself into a new user and network namespace, applies the
//     limits, no_new_privs and the Landlock rules, then executes the program.
//   - protection: one of filesystem (Landlock), network (an empty network
//     namespace: no interface, loopback down; Landlock's TCP rules too where
//     the kernel has them), ipc (Landlock's scoping of signals and abstract
//     unix sockets: the program cannot signal the harness), no-new-privileges
//     and limits (rlimits, the process limit counted within the namespace).
//     Probe says which the kernel offers.
//   - mode: strict (refuse without every protection), auto (use what the
//     kernel offers; the caller names what is missing once, at start) or off.
//
// Why these and not seccomp: Landlock and an empty network namespace state the
// rules in the terms of the policy (paths, no network), need no root and no
// daemon, and a program that breaks a rule gets an error from the call it
// tried (EACCES, ENETUNREACH, ENOMEM) instead of being killed. A seccomp
// filter would have to list system calls, which differ between Go releases
// and the CUDA driver, for little gain over the two.
//
// The static check of imports (CheckImports) keeps the most direct escapes
// out of the editable file before it is built.
package sandbox
