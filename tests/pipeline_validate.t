#!/bin/sh
# pipeline_validate.t — llp-run's checking of pipeline files: each invalid
# file gives exit 2 and exactly the expected FILE:LINE:COLUMN: message
# lines on stderr (nothing on stdout), with --dry-run and without; a file
# with many problems reports all of them in file order; valid files,
# ${VAR:-default} and the shorthand forms pass.
#
# Not for: running pipelines (tests/pipeline_run.t).
. "${0%/*}/lib.sh"
RUN=$BIN/llp-run
unset LLP_MODEL LLP_TEST_UNSET
cd "$TMP" || exit 1

# bad NAME 'expected stderr' < file: write NAME.yaml from stdin, check it.
bad() {
  cat > "$1.yaml"
  "$RUN" --dry-run "$1.yaml" > out.txt 2> err.txt; rc=$?
  is "$rc" 2 "$1: exit 2"
  is "$(cat err.txt)" "$2" "$1: message"
  [ -s out.txt ] && diag "$1: stdout not empty"
}

bad syntax_error "syntax_error.yaml:6:7: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 5, column 8)" <<'EOF'
version: 1
model: m.gguf
input:
  csv: a.csv
steps: [classify
output: {stdout: true}
EOF

printf 'version: 1\nmodel: m.gguf\ninput:\n\tcsv: a.csv\nsteps:\n  - tokenize\n' > tab.txt
bad tab_indent "tab_indent.yaml:4:1: tab character in indentation (YAML indents with spaces)" < tab.txt

bad unknown_step "unknown_step.yaml:5:5: unknown tool 'translate' (steps are tokenize, generate, embed, classify, summarize)" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - translate:
      to: french
EOF

bad misspelt_step "misspelt_step.yaml:5:5: unknown tool 'clasify' (did you mean 'classify'?)" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - clasify:
      labels: [a, b]
EOF

bad misspelt_option "misspelt_option.yaml:6:7: classify: unknown option 'lables' (did you mean 'labels'?)" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - classify:
      lables: [a, b]
EOF

bad string_for_int "string_for_int.yaml:6:19: summarize: max_tokens: expected an integer, got 'lots'" <<'EOF'
version: 1
model: m.gguf
input: {files: [docs/]}
steps:
  - summarize:
      max_tokens: lots
EOF

bad list_for_string "list_for_string.yaml:6:15: generate: system: expected a string, got a list" <<'EOF'
version: 1
model: m.gguf
input: {lines: prompts.txt}
steps:
  - generate:
      system: [be, brief]
EOF

bad mapping_for_list "mapping_for_list.yaml:6:15: classify: labels: expected a list of strings, got a mapping" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - classify:
      labels: {a: 1}
EOF

bad bad_bool "bad_bool.yaml:6:13: classify: chat: expected true or false, got 'maybe'" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - classify:
      chat: maybe
      labels: a,b
EOF

bad no_steps "no_steps.yaml:1:1: missing required key 'steps'" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
EOF

bad empty_steps "empty_steps.yaml:4:8: steps: the list is empty; a pipeline needs at least one step" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps: []
EOF

bad null_steps "null_steps.yaml:4:7: steps: the list is empty; a pipeline needs at least one step" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
EOF

bad no_input "no_input.yaml:1:1: missing required key 'input' (e.g. input: {csv: PATH})" <<'EOF'
version: 1
model: m.gguf
steps:
  - tokenize
EOF

bad two_inputs "two_inputs.yaml:5:3: input: give one source, got 'csv' and 'jsonl' (each pipeline reads one)" <<'EOF'
version: 1
model: m.gguf
input:
  csv: a.csv
  jsonl: b.jsonl
steps:
  - tokenize
EOF

bad no_source "no_source.yaml:3:8: input: no source; give one of csv, tsv, jsonl, lines, files, stdin" <<'EOF'
version: 1
model: m.gguf
input: {column: text}
steps:
  - tokenize
EOF

bad unsupported_version "unsupported_version.yaml:1:10: unsupported version '2' (llp-run reads version 1)" <<'EOF'
version: 2
model: m.gguf
input: {csv: a.csv}
steps:
  - tokenize
EOF

bad missing_version "missing_version.yaml:1:1: missing required key 'version' (write version: 1)" <<'EOF'
name: x
model: m.gguf
input: {csv: a.csv}
steps:
  - tokenize
EOF

bad undefined_env "undefined_env.yaml:2:8: undefined environment variable 'LLP_TEST_UNSET' (set it, or write \${LLP_TEST_UNSET:-default})" <<'EOF'
version: 1
model: ${LLP_TEST_UNSET}
input: {csv: a.csv}
steps:
  - tokenize
EOF

bad bad_expansion "bad_expansion.yaml:4:8: unterminated \${ (expected \${NAME} or \${NAME:-default})" <<'EOF'
version: 1
model: m.gguf
input:
  csv: ${HOME
steps:
  - tokenize
EOF

bad unknown_key "unknown_key.yaml:2:1: unknown key 'modle' (did you mean 'model'?)" <<'EOF'
version: 1
modle: m.gguf
input: {csv: a.csv}
steps:
  - tokenize
EOF

bad two_tools "two_tools.yaml:7:5: a step names one tool, this one also names 'summarize' (make it a list item of its own, '- summarize:')" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - classify:
      labels: [a, b]
    summarize:
      max_tokens: 9
EOF

bad two_outputs "two_outputs.yaml:8:3: output: give one target, got 'csv' and 'stdout'" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - tokenize
output:
  csv: o.csv
  stdout: true
EOF

bad negative_max_tokens "negative_max_tokens.yaml:6:19: summarize: max_tokens: must be between 16 and 1048576, got '-5'" <<'EOF'
version: 1
model: m.gguf
input: {files: [d/]}
steps:
  - summarize:
      max_tokens: -5
EOF

bad one_label "one_label.yaml:6:15: classify: labels: need at least 2 labels, got 1" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - classify:
      labels: [positive]
EOF

bad duplicate_key "duplicate_key.yaml:6:1: duplicate key 'model' (first at line 2, column 1)" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - tokenize
model: n.gguf
EOF

bad misplaced_option "misplaced_option.yaml:7:7: classify: 'column' is not a step option; it belongs under input:" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - classify:
      labels: [a, b]
      column: review
EOF

# `in:` under a step points to input:, where it works: stdin takes a format.
bad misplaced_in "misplaced_in.yaml:6:7: tokenize: 'in' is not a step option; it belongs under input:, as the source's key (csv: PATH) or stdin's value (stdin: csv)" <<'EOF'
version: 1
model: m.gguf
input: {stdin: true}
steps:
  - tokenize:
      in: csv
EOF
bad stdin_format "stdin_format.yaml:3:16: stdin: expected true or a format (csv, tsv, jsonl, lines), got 'xml'" <<'EOF'
version: 1
model: m.gguf
input: {stdin: xml}
steps: [tokenize]
EOF
printf 'version: 1\nmodel: m.gguf\ninput:\n  stdin: csv\n  column: review\n  no_header: false\nsteps: [tokenize, embed]\n' > stdin_csv.yaml
"$RUN" --dry-run stdin_csv.yaml > out.txt 2> err.txt; rc=$?
is "$rc" 0 "stdin: csv: valid"
is "$(sed -n 2p out.txt)" "input: stdin (csv), text from 'review'" "stdin: csv: the plan says so"
is "$(tail -1 out.txt)" "llp-tokenize -m m.gguf --column review --in csv --out jsonl | llp-embed -m m.gguf --field review" \
   "stdin: csv: the first step reads CSV (--in csv, --column)"
printf 'version: 1\nmodel: m.gguf\ninput:\n  stdin: csv\n  documents: true\nsteps: [tokenize]\n' > stdin_docs.yaml
"$RUN" --dry-run stdin_docs.yaml > /dev/null 2> err.txt
is "$(cat err.txt)" "stdin_docs.yaml:5:14: documents: only for files and stdin: true input" "stdin: csv with documents: refused"

bad missing_labels "missing_labels.yaml:5:5: classify: missing required option 'labels' (e.g. labels: [yes, no])" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - classify:
EOF

bad bad_choice "bad_choice.yaml:6:16: embed: pooling: expected one of mean, cls, last, got 'median'" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - embed:
      pooling: median
EOF

bad no_model "no_model.yaml:4:5: tokenize: no model; set model: at the top or in this step (or LLP_MODEL)" <<'EOF'
version: 1
input: {csv: a.csv}
steps:
  - tokenize
EOF

bad empty_file "empty_file.yaml:1:1: the file is empty; a pipeline needs version:, input: and steps:" < /dev/null

bad list_at_top "list_at_top.yaml:1:1: expected a mapping at the top (version:, input:, steps:...), got a list" <<'EOF'
- version: 1
EOF

bad format_with_file "format_with_file.yaml:8:11: format: only with stdout: true (the file key names the format)" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - tokenize
output:
  csv: o.csv
  format: jsonl
EOF

# A misspelt key is reported once, not also as the key it stands for missing.
bad misspelt_keys "misspelt_keys.yaml:3:9: input: unknown key 'cvs' (did you mean 'csv'?)
misspelt_keys.yaml:4:1: unknown key 'stpes' (did you mean 'steps'?)
misspelt_keys.yaml:6:10: output: unknown key 'jsnol' (did you mean 'jsonl'?)" <<'EOF'
version: 1
model: m.gguf
input: {cvs: a.csv}
stpes:
  - tokenize
output: {jsnol: o.jsonl}
EOF

bad duplicate_option "duplicate_option.yaml:7:7: duplicate key 'labels' (first at line 6, column 7)" <<'EOF'
version: 1
model: m.gguf
input: {csv: a.csv}
steps:
  - classify:
      labels: [a, b]
      labels: [c, d]
EOF

bad bad_threads "bad_threads.yaml:2:10: threads: must be between 1 and 1024, got '0'" <<'EOF'
version: 1
threads: 0
model: m.gguf
input: {csv: a.csv}
steps: [tokenize]
EOF

bad defaults_twice "defaults_twice.yaml:5:3: defaults: 'threads' is also set at the top; give it once" <<'EOF'
version: 1
threads: 3
model: m.gguf
defaults:
  threads: 2
input: {csv: a.csv}
steps: [tokenize]
EOF

# Several problems in one file: all reported, in file order.
bad several "several.yaml:1:10: unsupported version '3' (llp-run reads version 1)
several.yaml:2:1: unknown key 'modle' (did you mean 'model'?)
several.yaml:5:3: input: give one source, got 'csv' and 'stdin' (each pipeline reads one)
several.yaml:8:15: classify: labels: need at least 2 labels, got 1
several.yaml:9:19: classify: batch_rows: must be between 1 and 64, got '0'
several.yaml:10:7: classify: unknown option 'temperature' (see llp-classify --help)
several.yaml:11:5: unknown tool 'summarise' (did you mean 'summarize'?)
several.yaml:13:14: generate: top_p: must be between 0 and 1, got '1.5'
several.yaml:14:13: generate: temp: expected a number, got 'hot'" <<'EOF'
version: 3
modle: m.gguf
input:
  csv: a.csv
  stdin: true
steps:
  - classify:
      labels: [a]
      batch_rows: 0
      temperature: 0
  - summarise
  - generate:
      top_p: 1.5
      temp: hot
EOF

# Without --dry-run the file is checked the same way before anything runs.
"$RUN" one_label.yaml > out.txt 2> err.txt; rc=$?
is "$rc" 2 "without --dry-run: exit 2"
is "$(cat err.txt)" "one_label.yaml:6:15: classify: labels: need at least 2 labels, got 1" \
   "without --dry-run: the same message"

# A missing file.
"$RUN" --dry-run nowhere.yaml 2> err.txt; rc=$?
is "$rc" 2 "missing file: exit 2"
is "$(cat err.txt)" "nowhere.yaml: cannot open: No such file or directory" "missing file: message"

# defaults: holds threads, ctx_size and db, like the top level.
printf 'version: 1\nmodel: m.gguf\ndefaults:\n  threads: 2\n  db: x.db\ninput: {csv: a.csv}\nsteps: [tokenize]\n' > defaults.yaml
is "$("$RUN" --dry-run defaults.yaml 2>&1 | tail -1)" "llp-tokenize -m m.gguf --db x.db a.csv" \
   "defaults: db reaches the steps, threads only those that take -t (not tokenize)"
printf 'version: 1\nmodel: m.gguf\ndefaults:\n  threads: 2\n  db: x.db\ninput: {csv: a.csv}\nsteps: [embed]\n' > defaults.yaml
is "$("$RUN" --dry-run defaults.yaml 2>&1 | tail -1)" "llp-embed -m m.gguf -t 2 --db x.db a.csv" \
   "defaults: threads and db reach the steps"

# Valid files: shorthand steps, ${VAR:-default}, flow and block styles.
cat > good.yaml <<'EOF'
version: 1
name: good
model: ${LLP_TEST_UNSET:-default.gguf}
input:
  jsonl: [a.jsonl, b.jsonl]
  field: body
steps:
  - tokenize
  - classify: {labels: [yes, no], chat: false}
  - generate:
      stop: ["###", END]
      n_predict: 8
      temp: 0
output:
  stdout: true
  format: jsonl
EOF
"$RUN" --dry-run good.yaml > out.txt 2> err.txt; rc=$?
is "$rc" 0 "valid file: exit 0"
is "$(cat err.txt)" "" "valid file: nothing on stderr"
is "$(tail -1 out.txt)" "llp-tokenize -m default.gguf --field body --out jsonl a.jsonl b.jsonl | llp-classify -m default.gguf --labels yes,no --no-chat --field body --out jsonl | llp-generate -m default.gguf --stop '###' --stop END --n-predict 8 --temp 0 --field body --out jsonl" "valid file: the shell pipeline"
LLP_TEST_UNSET=set.gguf "$RUN" --dry-run good.yaml > out.txt 2>&1
case "$(tail -2 out.txt)" in *"-m set.gguf"*) r=0 ;; *) r=1 ;; esac
ok $r "\${VAR:-default}: the variable wins when set"

done_testing
