package io.percpuref.examples.ffm;

import java.io.PrintStream;
import java.util.function.Supplier;

/**
 * Shows the workload's progress while it runs: a bar redrawn in place when standard output is a
 * terminal, a plain line every second otherwise (CI logs, pipes). A daemon thread samples a
 * {@link Status} supplier; the workload's threads never wait for it. {@link #close()} stops it and
 * prints the final state once.
 */
final class Progress implements AutoCloseable {

    /** What is shown: how far the run is, and a free-form detail. */
    record Status(long done, long total, String detail) {
    }

    private static final int BAR_WIDTH = 24;

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
        this.thread = new Thread(this::loop, "ffm-progress");
        this.thread.setDaemon(true);
    }

    /** Starts reporting in {@code mode}; {@link CliOptions.ProgressMode#OFF} reports nothing. */
    static Progress start(PrintStream out, CliOptions.ProgressMode mode, Supplier<Status> status) {
        boolean bar = switch (mode) {
            case AUTO -> System.console() != null && System.console().isTerminal();
            case BAR -> true;
            case LINES, OFF -> false;
        };
        Progress p = new Progress(out, bar, status);
        if (mode != CliOptions.ProgressMode.OFF) {
            p.thread.start();
        }
        return p;
    }

    private void loop() {
        long interval = bar ? 100 : 1000;
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
            String line = String.format("run [%s%s] %3d%%  %s  %.1fs", "#".repeat(filled),
                    ".".repeat(BAR_WIDTH - filled), percent, s.detail(), seconds);
            int pad = Math.max(0, lastWidth - line.length());
            lastWidth = line.length();
            out.print("\r" + line + " ".repeat(pad) + (last ? "\n" : ""));
        } else {
            out.printf("progress %3d%%  %s  (%.1f s)%n", percent, s.detail(), seconds);
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
