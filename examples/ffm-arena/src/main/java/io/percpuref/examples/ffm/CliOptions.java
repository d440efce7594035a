package io.percpuref.examples.ffm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * The command line of the FFM example: {@code --name value} or {@code --name=value}, each with a
 * default, so that running with no arguments takes about 5 seconds.
 *
 * @param help      {@code --help} was given: print {@link #usage()} and do nothing else
 * @param files     files per generation, all mapped into one {@code MappedFileGroup}
 * @param fileSize  bytes per file
 * @param readers   reader threads
 * @param seconds   how long generations are replaced under the readers
 * @param replaceMs time between two replacements
 * @param seed      seeds the file contents and the readers' choices
 * @param dir       where the temporary directory is created
 * @param progress  how progress is shown
 */
public record CliOptions(boolean help, int files, int fileSize, int readers, int seconds, int replaceMs, long seed,
                         Path dir, ProgressMode progress) {

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

    /** The size of the block a reader verifies under one lease. */
    static final int BLOCK = 4096;

    private static final Set<String> OPTIONS = Set.of("--files", "--file-size", "--readers", "--seconds",
            "--replace-ms", "--seed", "--dir", "--progress");

    /** A command-line error; the message says which argument and why. */
    public static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /** What running with no arguments uses. */
    public static CliOptions defaults() {
        return new CliOptions(false, 6, 256 * 1024, 3, 5, 200, 42, Path.of(System.getProperty("java.io.tmpdir")),
                ProgressMode.AUTO);
    }

    /**
     * Parses {@code args} over {@link #defaults()}.
     *
     * @throws UsageException on an unknown option, a missing or malformed value or a value out of range
     */
    public static CliOptions parse(String... args) throws UsageException {
        CliOptions d = defaults();
        boolean help = false;
        int files = d.files;
        int fileSize = d.fileSize;
        int readers = d.readers;
        int seconds = d.seconds;
        int replaceMs = d.replaceMs;
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
                case "--files" -> files = intIn(name, value, 1, 1000);
                case "--file-size" -> fileSize = sizeIn(name, value, BLOCK, 1 << 30);
                case "--readers" -> readers = intIn(name, value, 1, 256);
                case "--seconds" -> seconds = intIn(name, value, 1, 3600);
                case "--replace-ms" -> replaceMs = intIn(name, value, 1, 60_000);
                case "--seed" -> seed = longValue(name, value);
                case "--dir" -> dir = directory(name, value);
                case "--progress" -> progress = progressMode(name, value);
                default -> throw new AssertionError("option " + name + " is in OPTIONS but not parsed");
            }
        }
        if (fileSize % BLOCK != 0) {
            throw new UsageException("--file-size (" + fileSize + ") must be a multiple of " + BLOCK);
        }
        return new CliOptions(help, files, fileSize, readers, seconds, replaceMs, seed, dir, progress);
    }

    /** The usage text, ending in a newline. */
    public static String usage() {
        CliOptions d = defaults();
        return String.join("\n",
                "usage: java -jar percpu-ref-example-ffm.jar [options]      (JDK 22 or later)",
                "",
                "Writes generations of files in a temporary directory, maps each generation into one",
                "MappedFileGroup (a drain-aware shared arena), reads blocks of the current generation from",
                "several threads under leases while the generations are closed and replaced, verifies every",
                "byte, and checks that every closed generation was unmapped once its last lease closed.",
                "",
                "options (defaults in brackets):",
                "  --files N         files per generation [" + d.files + "]",
                "  --file-size SIZE  bytes per file, a multiple of 4k, e.g. 256k, 1m [256k]",
                "  --readers N       reader threads [" + d.readers + "]",
                "  --seconds N       how long generations are replaced under the readers [" + d.seconds + "]",
                "  --replace-ms N    milliseconds between two replacements [" + d.replaceMs + "]",
                "  --seed N          seeds the file contents and the readers' choices [" + d.seed + "]",
                "  --dir DIR         where to create the temporary directory [java.io.tmpdir]",
                "  --progress MODE   auto, bar, lines or off; auto = bar on a terminal, lines otherwise [auto]",
                "  -h, --help        print this help and exit",
                "",
                "Exit status: 0 every check passed, 1 a check failed, 2 bad arguments.",
                "");
    }

    private static int intIn(String name, String value, int min, int max) throws UsageException {
        long v = longValue(name, value);
        if (v < min || v > max) {
            throw new UsageException(name + " must be between " + min + " and " + max + ", not " + value);
        }
        return (int) v;
    }

    private static long longValue(String name, String value) throws UsageException {
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(name + " needs a whole number, not '" + value + "'");
        }
    }

    private static int sizeIn(String name, String value, int min, int max) throws UsageException {
        String v = value.trim().toLowerCase(Locale.ROOT);
        long unit = 1;
        if (v.endsWith("k")) {
            unit = 1024;
        } else if (v.endsWith("m")) {
            unit = 1024 * 1024;
        }
        if (unit != 1) {
            v = v.substring(0, v.length() - 1);
        }
        long size;
        try {
            size = Math.multiplyExact(Long.parseLong(v), unit);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new UsageException(name + " needs a size such as 4096, 256k or 1m, not '" + value + "'");
        }
        if (size < min || size > max) {
            throw new UsageException(name + " must be between " + min + " and " + max + " bytes, not " + value);
        }
        return (int) size;
    }

    private static Path directory(String name, String value) throws UsageException {
        Path dir = Path.of(value);
        if (!Files.isDirectory(dir)) {
            throw new UsageException(name + " " + value + " is not a directory");
        }
        return dir;
    }

    private static ProgressMode progressMode(String name, String value) throws UsageException {
        try {
            return ProgressMode.valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new UsageException(name + " must be auto, bar, lines or off, not '" + value + "'");
        }
    }
}
