# Shared by the shell tests (tests/*.sh): a scratch folder, numbered ok lines, and a
# failure that shows the last command's output. Sourced; sets `work` and `out`.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/out

checks=0
ok() {
  checks=$((checks + 1))
  echo "ok $checks - $*"
}
fail() {
  echo "FAIL - $*" >&2
  if [[ -s $out ]]; then
    echo "--- output:" >&2
    cat "$out" >&2
  fi
  exit 1
}
