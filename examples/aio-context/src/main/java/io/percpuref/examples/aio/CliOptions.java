package io.percpuref.examples.aio;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * The command line of the AIO example: plain {@code --name value} / {@code --name=value} options,
 * each with a default, so that running with no arguments does something sensible in 5 to 15
 * seconds.
 *
 * @param help       {@code --help} was given: print {@link #usage()} and do nothing else
 * @param contexts   AIO contexts, one file each
 * @param requests   requests per context
 * @param blockSize  bytes per request
 * @param queueDepth {@code nr_events} of each context: requests in flight at most
 * @param batch      requests per {@code io_submit} call
 * @param rate       requests per second per context; 0 submits as fast as completions allow
 * @param destroy    contexts destroyed while their I/O is in flight (the others at the end)
 * @param ioThreads  threads running the channels' I/O and completion handlers
 * @param seed       seeds the request mix, the data written and when contexts are destroyed
 * @param dir        where the temporary directory with the files is created
 * @param progress   how progress is shown
 */
public record CliOptions(boolean help, int contexts, int requests, int blockSize, int queueDepth, int batch,
                         int rate, int destroy, int ioThreads, long seed, Path dir, ProgressMode progress) {

    /** How the workload reports progress. */
    public enum ProgressMode {
        /** {@link #BAR} when standard output is a terminal, else {@link #LINES}. */
        AUTO,
        /** One line redrawn in place with carriage returns. */
        BAR,
        /** A plain line every second, for logs. */
        LINES,
        /** Nothing until the summary. */
        OFF
    }

    /** The options that take a value. */
    private static final Set<String> OPTIONS = Set.of("--contexts", "--requests", "--block-size", "--queue-depth",
            "--batch", "--rate", "--destroy", "--io-threads", "--seed", "--dir", "--progress");

    /** The command-line error: the message says which argument and why. */
    public static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /** What running with no arguments uses. */
    public static CliOptions defaults() {
        return new CliOptions(false, 8, 2_500, 4096, 64, 16, 500, 4, 4, 42,
                Path.of(System.getProperty("java.io.tmpdir")), ProgressMode.AUTO);
    }

    /**
     * Parses {@code args} over {@link #defaults()}.
     *
     * @throws UsageException on an unknown option, a missing or malformed value, a value out of
     *                        range, or options that contradict each other
     */
    public static CliOptions parse(String... args) throws UsageException {
        CliOptions d = defaults();
        boolean help = false;
        int contexts = d.contexts;
        int requests = d.requests;
        int blockSize = d.blockSize;
        int queueDepth = d.queueDepth;
        int batch = d.batch;
        int rate = d.rate;
        Integer destroy = null;
        int ioThreads = d.ioThreads;
        long seed = d.seed;
        Path dir = d.dir;
        ProgressMode progress = d.progress;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("-h") || arg.equals("--help")) {
                help = true;
                continue;
            }
            if (!arg.startsWith("--")) {
                throw new UsageException("unexpected argument '" + arg + "'");
            }
            int eq = arg.indexOf('=');
            String name = eq >= 0 ? arg.substring(0, eq) : arg;
            if (!OPTIONS.contains(name)) {
                throw new UsageException("unknown option '" + name + "'");
            }
            String value;
            if (eq >= 0) {
                value = arg.substring(eq + 1);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new UsageException("option " + arg + " needs a value");
            }
            switch (name) {
                case "--contexts" -> contexts = intIn(name, value, 1, 1024);
                case "--requests" -> requests = intIn(name, value, 1, 10_000_000);
                case "--block-size" -> blockSize = (int) sizeIn(name, value, 1, 1 << 20);
                case "--queue-depth" -> queueDepth = intIn(name, value, 1, 65_536);
                case "--batch" -> batch = intIn(name, value, 1, 65_536);
                case "--rate" -> rate = intIn(name, value, 0, 10_000_000);
                case "--destroy" -> destroy = intIn(name, value, 0, 1024);
                case "--io-threads" -> ioThreads = intIn(name, value, 1, 256);
                case "--seed" -> seed = longValue(name, value);
                case "--dir" -> dir = directory(name, value);
                case "--progress" -> progress = progressMode(name, value);
                default -> throw new AssertionError("option " + name + " is in OPTIONS but not parsed");
            }
        }
        if (batch > queueDepth) {
            throw new UsageException("--batch (" + batch + ") must not exceed --queue-depth (" + queueDepth + ")");
        }
        int destroyed = destroy != null ? destroy : contexts / 2;
        if (destroyed > contexts) {
            throw new UsageException("--destroy (" + destroyed + ") must not exceed --contexts (" + contexts + ")");
        }
        return new CliOptions(help, contexts, requests, blockSize, queueDepth, batch, rate, destroyed, ioThreads,
                seed, dir, progress);
    }

    /** The usage text, ending in a newline. */
    public static String usage() {
        CliOptions d = defaults();
        return String.join("\n",
                "usage: java -jar percpu-ref-example-aio.jar [options]",
                "",
                "Runs Linux-AIO-style contexts (io_setup / io_submit / io_destroy) over real files in a",
                "temporary directory, destroys some contexts while their I/O is in flight, reads every",
                "written byte back, and prints a summary and the percpu-ref metrics.",
                "",
                "options (defaults in brackets):",
                "  --contexts N       AIO contexts, one file each [" + d.contexts + "]",
                "  --requests N       requests per context [" + d.requests + "]",
                "  --block-size SIZE  bytes per request, e.g. 4096, 4k, 1m (at most 1m) [" + d.blockSize + "]",
                "  --queue-depth N    nr_events: requests in flight per context [" + d.queueDepth + "]",
                "  --batch N          requests per io_submit call, at most the queue depth [" + d.batch + "]",
                "  --rate N           requests per second per context, 0 = no limit [" + d.rate + "]",
                "  --destroy N        contexts destroyed while I/O is in flight [half of --contexts]",
                "  --io-threads N     threads doing the I/O and running completion handlers [" + d.ioThreads + "]",
                "  --seed N           seeds the request mix, the data and the destroy points [" + d.seed + "]",
                "  --dir DIR          where to create the temporary directory [java.io.tmpdir]",
                "  --progress MODE    auto, bar, lines or off; auto = bar on a terminal, lines otherwise [auto]",
                "  -h, --help         print this help and exit",
                "",
                "Exit status: 0 all bytes verified, 1 a check failed, 2 bad arguments.",
                "");
    }

    private static int intIn(String name, String value, int min, int max) throws UsageException {
        long v = longValue(name, value);
        if (v < min || v > max) {
            throw new UsageException(name + " must be between " + min + " and " + max + ", was " + value);
        }
        return (int) v;
    }

    private static long longValue(String name, String value) throws UsageException {
        try {
            return Long.parseLong(value.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new UsageException(name + " needs a whole number, was '" + value + "'");
        }
    }

    /** A byte count with an optional k or m suffix (binary). */
    private static long sizeIn(String name, String value, long min, long max) throws UsageException {
        String v = value.toLowerCase(Locale.ROOT);
        long unit = 1;
        if (v.endsWith("k")) {
            unit = 1 << 10;
            v = v.substring(0, v.length() - 1);
        } else if (v.endsWith("m")) {
            unit = 1 << 20;
            v = v.substring(0, v.length() - 1);
        }
        long n;
        try {
            n = Long.parseLong(v) * unit;
        } catch (NumberFormatException e) {
            throw new UsageException(name + " needs a size such as 4096, 4k or 1m, was '" + value + "'");
        }
        if (n < min || n > max) {
            throw new UsageException(name + " must be between " + min + " and " + max + " bytes, was " + value);
        }
        return n;
    }

    private static Path directory(String name, String value) throws UsageException {
        Path dir = Path.of(value);
        if (!Files.isDirectory(dir)) {
            throw new UsageException(name + " must be an existing directory, was '" + value + "'");
        }
        return dir;
    }

    private static ProgressMode progressMode(String name, String value) throws UsageException {
        try {
            return ProgressMode.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new UsageException(name + " must be auto, bar, lines or off, was '" + value + "'");
        }
    }
}
