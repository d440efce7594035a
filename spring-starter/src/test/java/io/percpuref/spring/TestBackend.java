package io.percpuref.spring;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A guarded resource for the shutdown, web and virtual-thread tests: calls that block until the
 * test opens a gate, an asynchronous call, and a record of what happened in which order. State is
 * read through methods: the bean is a CGLIB proxy, whose own fields are not the target's.
 */
@GuardedResource(name = "backend")
public class TestBackend implements AutoCloseable {

    private final List<String> events = new CopyOnWriteArrayList<>();
    private final AtomicInteger closes = new AtomicInteger();
    private final List<Thread> callThreads = new CopyOnWriteArrayList<>();
    private final CountDownLatch gate = new CountDownLatch(1);
    private volatile CountDownLatch entered = new CountDownLatch(1);

    @Guarded
    public String work() {
        this.callThreads.add(Thread.currentThread());
        return "ok";
    }

    /** Blocks until {@link #openGate()} (at most 30 seconds). */
    @Guarded
    public String slow() {
        this.callThreads.add(Thread.currentThread());
        this.entered.countDown();
        try {
            if (!this.gate.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the test never opened the gate");
            }
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        this.events.add("slow finished");
        return "slow ok";
    }

    /** The lease is held until {@code work} completes. */
    @Guarded
    public CompletableFuture<String> async(CompletableFuture<String> work) {
        return work;
    }

    @Override
    public void close() {
        this.closes.incrementAndGet();
        this.events.add("closed");
    }

    /** Makes {@link #awaitSlowCalls} wait for {@code count} slow calls. */
    public void expectSlowCalls(int count) {
        this.entered = new CountDownLatch(count);
    }

    /** Waits until the expected slow calls (default one) have started. */
    public boolean awaitSlowCalls() throws InterruptedException {
        return this.entered.await(20, TimeUnit.SECONDS);
    }

    /** Lets every slow call finish. */
    public void openGate() {
        this.gate.countDown();
    }

    /** What happened, in order: "slow finished" by the calls, "closed" by the release, and the test's own marks. */
    public List<String> events() {
        return this.events;
    }

    /** How often {@link #close()} ran. */
    public int closes() {
        return this.closes.get();
    }

    /** The threads the guarded calls ran on. */
    public List<Thread> callThreads() {
        return this.callThreads;
    }
}
