#!/usr/bin/env bash
# The README's test command: sets up what the tests need on this machine, then builds everything and
# runs every test with `mvn -B verify`. Arguments go to Maven as they are:
#
#   ./build.sh                                          # set-up, then mvn -B verify
#   ./build.sh -Dprometheus.binary=/opt/prometheus/prometheus -Djdk25.home=/opt/jdk-25
#
# Set-up: the Prometheus end-to-end test (examples/spring-boot-demo) needs a `prometheus` binary
# (2.x or later); the test starts its own instance on a free loopback port and fails, never skips,
# without one. It looks at -Dprometheus.binary, then PATH, then /usr/bin/prometheus. When none is
# there, this script installs Debian's `prometheus` package on Debian or Ubuntu (as root, or with
# sudo), then stops and disables the service the package starts, so that nothing is left running
# on :9090. Anywhere else, or without root or sudo, it stops before the build and says what to
# install or which property to set. It never stops a Prometheus it did not install.
#
# Not set up here: the second run of the core and starter tests on JDK 25 happens when
# ${jdk25.home}/bin/java exists (default in .mvn/maven.config); otherwise the build prints one
# "JDK 25 test run ... SKIPPED" line per module and goes on. The same JDK builds and tests the FFM
# modules (ffm/, examples/ffm-arena, benchmarks/ffm; release 22); without it they are left out and
# the build says "percpu-ref-ffm, ... SKIPPED" at its start (docs/ffm.md).
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '== %s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 2; }

command -v java >/dev/null 2>&1 || die "no java on PATH: install a JDK 17 or later (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)"
command -v mvn >/dev/null 2>&1 || die "no mvn on PATH: install Maven 3.8 or later (Debian/Ubuntu: apt-get install maven)"

readonly NEEDS="the Prometheus end-to-end test (examples/spring-boot-demo) needs a prometheus binary (2.x or later), and none is on PATH or at /usr/bin/prometheus"

# Installs Debian's prometheus package, or dies saying what to do instead.
install_prometheus() {
    if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
        die "$NEEDS. Install Prometheus (https://prometheus.io/download/ or your system's package) and put it on PATH, or give its path: ./build.sh -Dprometheus.binary=/path/to/prometheus"
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        # sudo without a password, or with one typed at this terminal.
        if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
            sudo="sudo"
        else
            die "$NEEDS. Install it as root (apt-get install -y prometheus) and run ./build.sh again, or give its path: ./build.sh -Dprometheus.binary=/path/to/prometheus"
        fi
    fi
    say "installing Debian's prometheus package for the end-to-end test${sudo:+ (with sudo)}"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
    stop_packaged_service "$sudo"
}

# The package starts a system Prometheus on :9090; the tests do not use it. Stop it and keep it from
# starting again at boot, with whichever init system started it.
stop_packaged_service() {
    local sudo=$1
    if [ -d /run/systemd/system ]; then
        $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
    else
        $sudo invoke-rc.d prometheus stop >/dev/null 2>&1 || $sudo service prometheus stop >/dev/null 2>&1 || true
        $sudo update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
    local tries=0
    while (exec 3<>/dev/tcp/127.0.0.1/9090) 2>/dev/null; do
        if [ $((tries += 1)) -gt 20 ]; then
            say "warning: something still listens on 127.0.0.1:9090 after stopping the packaged prometheus service (the tests do not need it)"
            return
        fi
        sleep 0.5
    done
    say "stopped and disabled the packaged prometheus service (nothing listens on :9090)"
}

configured=""
for arg in "$@"; do
    case "$arg" in
        -Dprometheus.binary=*) configured="${arg#-Dprometheus.binary=}" ;;
    esac
done

if [ -n "$configured" ]; then
    [ -x "$configured" ] || die "-Dprometheus.binary=$configured: not an executable file"
    prometheus="$configured"
elif command -v prometheus >/dev/null 2>&1; then
    prometheus="$(command -v prometheus)"
elif [ -x /usr/bin/prometheus ]; then
    prometheus=/usr/bin/prometheus
else
    install_prometheus
    prometheus=/usr/bin/prometheus
    [ -x "$prometheus" ] || die "installed the prometheus package, but there is no $prometheus"
fi
say "prometheus for the end-to-end test: $prometheus ($("$prometheus" --version 2>&1 | sed -n 1p))"

say "mvn -B verify $*"
exec mvn -B verify "$@"
