package io.percpuref.examples.aio;

import java.io.Console;
import java.io.PrintStream;
import java.util.function.Supplier;

/**
 * Shows the workload's progress while it runs: a bar redrawn in place with carriage returns when
 * standard output is a terminal, or a plain line every second otherwise (CI logs, pipes, files).
 *
 * <p>A daemon thread samples a {@link Status} supplier; the workload's threads never wait for it.
 * {@link #close()} stops the thread and prints the final state once.
 */
final class Progress implements AutoCloseable {

    /** What the bar shows: a phase, how far it is, and a free-form detail. */
    record Status(String phase, long done, long total, String detail) {
    }

    private static final int BAR_WIDTH = 24;
    private static final long BAR_INTERVAL_MILLIS = 100;
    private static final long LINE_INTERVAL_MILLIS = 1000;

    private final PrintStream out;
    private final boolean bar;
    private final Supplier<Status> status;
    private final long startNanos = System.nanoTime();
    private final Thread thread;
    /** Width of the last bar drawn, so a shorter one can blank out its tail. */
    private int lastWidth;
    /** Set by close(); the sampling thread exits when it sees it. */
    private volatile boolean closed;

    private Progress(PrintStream out, boolean bar, Supplier<Status> status) {
        this.out = out;
        this.bar = bar;
        this.status = status;
        this.thread = new Thread(this::loop, "aio-progress");
        this.thread.setDaemon(true);
    }

    /** Starts reporting in {@code mode}; {@link CliOptions.ProgressMode#OFF} reports nothing. */
    static Progress start(PrintStream out, CliOptions.ProgressMode mode, Supplier<Status> status) {
        boolean bar = switch (mode) {
            case AUTO -> stdoutIsTerminal();
            case BAR -> true;
            case LINES, OFF -> false;
        };
        Progress p = new Progress(out, bar, status);
        if (mode != CliOptions.ProgressMode.OFF) {
            p.thread.start();
        }
        return p;
    }

    /**
     * Whether standard output is a terminal. JDK 17 has a console only when both standard input and
     * output are terminals; from JDK 22 on a console always exists and {@code isTerminal()} tells.
     */
    static boolean stdoutIsTerminal() {
        Console console = System.console();
        if (console == null) {
            return false;
        }
        try {
            return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
        } catch (NoSuchMethodException beforeJdk22) {
            return true;
        } catch (ReflectiveOperationException e) {
            return false;
        }
    }

    private void loop() {
        long interval = bar ? BAR_INTERVAL_MILLIS : LINE_INTERVAL_MILLIS;
        while (!closed) {
            try {
                Thread.sleep(interval);
            } catch (InterruptedException e) {
                return;
            }
            if (!closed) {
                print(status.get(), false);
            }
        }
    }

    /** Prints one update; synchronized with {@link #close()} so the final one is drawn last. */
    private synchronized void print(Status s, boolean last) {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        int percent = s.total() == 0 ? 100 : (int) Math.min(100, s.done() * 100 / s.total());
        if (bar) {
            int filled = percent * BAR_WIDTH / 100;
            String line = String.format("%-8s [%s%s] %3d%%  %s  %.1fs", s.phase(), "#".repeat(filled),
                    ".".repeat(BAR_WIDTH - filled), percent, s.detail(), seconds);
            int pad = Math.max(0, lastWidth - line.length());
            lastWidth = line.length();
            out.print("\r" + line + " ".repeat(pad) + (last ? "\n" : ""));
        } else {
            out.printf("progress %-8s %3d%%  %s  (%.1f s)%n", s.phase(), percent, s.detail(), seconds);
        }
        out.flush();
    }

    /** Stops reporting and prints the final status (nothing in OFF mode). */
    @Override
    public void close() {
        boolean wasRunning = thread.isAlive();
        closed = true;
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (wasRunning) {
            print(status.get(), true);
        }
    }
}
