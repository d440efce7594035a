package io.percpuref.examples.modules;

import java.io.IOException;
import java.net.URLClassLoader;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * One loaded module: its class loader, its instance and its counters; the resource a
 * {@link ModuleTable} registers, one per load (a reload registers a new one).
 *
 * <p>Safety argument: {@link #invoke} runs only under a reference ({@link ModuleRef} holds a lease)
 * and {@link #unload()}, the release action, runs only after the module was killed and its last
 * reference put. So no call can run into a closed class loader. This class checks it anyway and
 * counts any breach in the table's {@code violations}: {@link #active} must be 0 at unload, and no
 * call may start after {@link #closed} is set.
 */
final class LoadedModule {

    /** What the module's jar says it is. */
    final ModuleDescriptor descriptor;
    /** Which load of the table this is (1, 2, ...); part of the registry name. */
    final long generation;
    /** The module's own loader; null once unloaded, so a stale reference to this object cannot keep it alive. */
    private volatile URLClassLoader loader;
    /** The module's instance; null once unloaded, for the same reason. */
    private volatile LoadableModule instance;
    /** Set by {@link #unload()} before exit runs and the loader closes. */
    private volatile boolean closed;
    /** Calls running now. */
    private final AtomicInteger active = new AtomicInteger();
    /** Calls completed. */
    private final LongAdder calls = new LongAdder();
    /** How many times {@link #unload()} ran: must end at exactly 1. */
    private final AtomicInteger unloads = new AtomicInteger();
    /** The table's count of calls that met a closed loader (shared by every module of the table). */
    private final LongAdder violations;

    LoadedModule(ModuleDescriptor descriptor, long generation, URLClassLoader loader, LoadableModule instance,
                 LongAdder violations) {
        this.descriptor = descriptor;
        this.generation = generation;
        this.loader = loader;
        this.instance = instance;
        this.violations = violations;
    }

    /** Calls the module's exported function; the caller holds a reference. */
    String invoke(String argument) {
        active.incrementAndGet();
        try {
            LoadableModule m = instance;
            if (closed || m == null) {
                violations.increment();
                throw new IllegalStateException("call into " + this + " after its class loader was closed");
            }
            String result = m.call(argument);
            calls.increment();
            return result;
        } finally {
            active.decrementAndGet();
        }
    }

    /** The module's class loader, or null once unloaded. */
    ClassLoader classLoader() {
        return loader;
    }

    long calls() {
        return calls.sum();
    }

    int unloadCount() {
        return unloads.get();
    }

    /**
     * The release action ({@code delete_module}'s {@code mod->exit()} and freeing): runs once, after
     * the last call returned. Calls the module's exit, then closes its class loader.
     *
     * @throws IOException if closing the loader fails (the registry reports it)
     */
    void unload() throws IOException {
        unloads.incrementAndGet();
        closed = true;
        if (active.get() != 0) {
            violations.increment(); // a call is running into the module we are about to close
        }
        URLClassLoader l = loader;
        LoadableModule m = instance;
        instance = null;
        loader = null;
        try {
            m.exit();
        } finally {
            l.close();
        }
    }

    /** For example {@code greeter 1.0 (#3)}. */
    @Override
    public String toString() {
        return descriptor + " (#" + generation + ")";
    }
}
