#!/bin/sh
# Renders the VTL corpus with Apache Velocity 1.7 (Debian's `velocity` package) through
# tests/vtl/Runner.java and prints the cases in the corpus's expected-output format.
# Needs: apt-get install -y velocity default-jdk-headless libjsonpath-java libslf4j-java
set -eu
here=$(cd "$(dirname "$0")" && pwd)
j=/usr/share/java
cp="$j/velocity-1.7.jar:$j/commons-collections3.jar:$j/commons-lang-2.6.jar:$j/json-path.jar:$j/json-smart.jar:$j/accessors-smart.jar:$j/asm.jar:$j/slf4j-api.jar:$j/slf4j-nop.jar"
out=${TMPDIR:-/tmp}/portico-vtl-runner
mkdir -p "$out"
javac -nowarn -d "$out" -cp "$cp" "$here/Runner.java" 2>&1 | grep -v '^Note:' >&2 || true
exec java -cp "$out:$cp" Runner "$@"
