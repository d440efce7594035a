package io.percpuref.registry;

import java.util.concurrent.atomic.AtomicInteger;

/** A stand-in for a real resource: counts how often it is closed, and where. */
final class TestResource {

    private final AtomicInteger closes = new AtomicInteger();
    private volatile String closedOn;

    /** The release action under test. */
    void close() {
        closedOn = Thread.currentThread().getName();
        closes.incrementAndGet();
    }

    int closes() {
        return closes.get();
    }

    String closedOn() {
        return closedOn;
    }
}
