package io.percpuref.examples.aio;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * An executor for the channels that holds every task until {@link #open()}: with it, requests stay
 * in flight (their I/O not even started, their completion handlers not run) for as long as a test
 * needs, deterministically.
 */
final class GatedExecutor extends AbstractExecutorService {

    private final ExecutorService delegate = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "gated-io");
        t.setDaemon(true);
        return t;
    });
    /** Tasks held while the gate is closed; guarded by this. */
    private final List<Runnable> held = new ArrayList<>();
    /** Guarded by this. */
    private boolean open;

    @Override
    public synchronized void execute(Runnable task) {
        if (open) {
            delegate.execute(task);
        } else {
            held.add(task);
        }
    }

    /** Lets the held tasks, and every later one, run. */
    synchronized void open() {
        open = true;
        held.forEach(delegate::execute);
        held.clear();
    }

    /** Tasks held so far. */
    synchronized int held() {
        return held.size();
    }

    @Override
    public void shutdown() {
        delegate.shutdown();
    }

    @Override
    public List<Runnable> shutdownNow() {
        return delegate.shutdownNow();
    }

    @Override
    public boolean isShutdown() {
        return delegate.isShutdown();
    }

    @Override
    public boolean isTerminated() {
        return delegate.isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        return delegate.awaitTermination(timeout, unit);
    }
}
