package io.percpuref.examples.ffm;

import java.io.IOException;
import java.io.PrintStream;

/**
 * Entry point of the FFM example: {@code java -jar percpu-ref-example-ffm.jar [options]} on JDK 22
 * or later; see {@link CliOptions#usage()} and {@code docs/examples/ffm-arena.md}.
 */
public final class Main {

    /** Every check passed. */
    static final int EXIT_OK = 0;
    /** The workload ran but a check failed (wrong byte, unexpected exception, mapping left...). */
    static final int EXIT_FAILED = 1;
    /** Bad command line. */
    static final int EXIT_USAGE = 2;

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Parses {@code args} and runs the workload.
     *
     * @return the exit status: {@link #EXIT_OK}, {@link #EXIT_FAILED} or {@link #EXIT_USAGE}
     */
    static int run(String[] args, PrintStream out, PrintStream err) {
        CliOptions options;
        try {
            options = CliOptions.parse(args);
        } catch (CliOptions.UsageException e) {
            err.println("percpu-ref-example-ffm: " + e.getMessage());
            err.println();
            err.print(CliOptions.usage());
            return EXIT_USAGE;
        }
        if (options.help()) {
            out.print(CliOptions.usage());
            return EXIT_OK;
        }
        try {
            return new Workload(options, out).run() ? EXIT_OK : EXIT_FAILED;
        } catch (IOException e) {
            err.println("percpu-ref-example-ffm: I/O error: " + e);
            return EXIT_FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("percpu-ref-example-ffm: interrupted");
            return EXIT_FAILED;
        }
    }
}
