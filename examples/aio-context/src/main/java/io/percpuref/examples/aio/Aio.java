package io.percpuref.examples.aio;

import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;

import java.io.IOException;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Linux AIO's three system calls over real files, with each context's lifetime managed by a
 * {@link RefRegistry} the way {@code fs/aio.c} manages a {@code kioctx} with {@code percpu_ref}.
 *
 * <pre>{@code
 * long ctx = aio.ioSetup(file, 64, 4096);                       // io_setup(64, &ctx)
 * aio.ioSubmit(ctx, List.of(IoCb.pwrite(0, data, ev -> ...)));  // io_submit(ctx, 1, iocbs)
 * aio.ioDestroy(ctx);                                           // io_destroy(ctx)
 * }</pre>
 *
 * <h2>How it maps to the kernel</h2>
 * <ul>
 *   <li>{@link #ioSetup}: opens the file's {@link AsynchronousFileChannel}, allocates
 *   {@code nrEvents} slots, registers the context ({@code "aio-ctx-<id>"}; the registration is
 *   the ref's initial reference) and publishes its id in the context table, the
 *   {@code mm->ioctx_table}.</li>
 *   <li>{@link #ioSubmit}: looks the id up ({@code lookup_ioctx()}); each request takes a lease
 *   ({@code percpu_ref_tryget_live()}) that its completion handler closes
 *   ({@code percpu_ref_put()}) after delivering its event. The kernel takes {@code ctx->users}
 *   for the system call and {@code ctx->reqs} per request; here one reference per request does
 *   both jobs, because the lease is handed from the submitting thread to the handler.</li>
 *   <li>{@link #ioDestroy}: kill ({@code percpu_ref_kill()}: from the moment it returns no request
 *   can take a reference), confirm (the id is unpublished, so lookups fail with
 *   {@code EINVAL}), release when the last completion handler has run (the channel is closed
 *   and the slots freed: {@code free_ioctx_users()} .. {@code free_ioctx()}). The kernel
 *   unpublishes before killing because its {@code tryget_live} only fails reliably after an RCU
 *   grace period; this kill is linearizable, so the table can be cleaned in the confirm step.
 *   The kernel's {@code io_destroy} then sleeps until the release; here it returns once the id
 *   is unpublished and hands back a stage that completes at the release, so the caller chooses
 *   whether to wait ({@code ioDestroy(ctx).toCompletableFuture().join()} is the kernel's
 *   behaviour).</li>
 * </ul>
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li>A submit that starts after {@code ioDestroy} returned is refused ({@code UNKNOWN_CONTEXT});
 *   one racing it either is refused ({@code CONTEXT_DYING}, or a short count) or runs to completion
 *   with its reference held, and the release waits for it.</li>
 *   <li>Every accepted request completes exactly once: its event callback runs, then its lease is
 *   closed. The channel is closed once per context, after the last handler of that context.</li>
 * </ul>
 *
 * <p>Thread-safety: every method may be called from any thread. I/O and completion handlers run on
 * the executor given to the constructor.
 */
public final class Aio implements AutoCloseable {

    /** How long {@link #close()} waits for the contexts it destroys to be released. */
    private static final long CLOSE_TIMEOUT_SECONDS = 30;

    /** The published contexts by id: the {@code mm->ioctx_table}. */
    private final ConcurrentHashMap<Long, Published> table = new ConcurrentHashMap<>();
    /** Last id handed out; ids are never reused. */
    private final AtomicLong lastId = new AtomicLong();
    /** Tracks the contexts' refs and runs their release actions. */
    private final RefRegistry registry;
    /** Runs the channels' I/O and completion handlers. */
    private final ExecutorService ioExecutor;

    /** A context and its handle in the registry, as the table holds them. */
    private record Published(ManagedResource<AioContext> handle, AioContext context) {
    }

    /**
     * @param registry   where the contexts are registered; shared with anything else the caller
     *                   manages, and not shut down by {@link #close()}
     * @param ioExecutor runs the I/O and the completion handlers of every context's channel; not
     *                   shut down by {@link #close()}
     * @throws NullPointerException if an argument is null
     */
    public Aio(RefRegistry registry, ExecutorService ioExecutor) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.ioExecutor = Objects.requireNonNull(ioExecutor, "ioExecutor");
    }

    /**
     * {@code io_setup}: creates a context doing I/O on {@code file} (created if missing) with room
     * for {@code nrEvents} requests in flight, each of at most {@code blockSize} bytes.
     *
     * @return the new context's id, published: {@link #ioSubmit} finds it from now on
     * @throws NullPointerException     if {@code file} is null
     * @throws IllegalArgumentException if {@code nrEvents} or {@code blockSize} is not positive
     * @throws IOException              if the file cannot be opened
     */
    public long ioSetup(Path file, int nrEvents, int blockSize) throws IOException {
        Objects.requireNonNull(file, "file");
        if (nrEvents < 1 || blockSize < 1) {
            throw new IllegalArgumentException("io_setup needs nrEvents >= 1 and blockSize >= 1, was "
                    + nrEvents + " and " + blockSize);
        }
        AsynchronousFileChannel channel = AsynchronousFileChannel.open(file,
                Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE), ioExecutor);
        long id = lastId.incrementAndGet();
        AioContext context = new AioContext(id, file, channel, nrEvents, blockSize);
        ManagedResource<AioContext> handle;
        try {
            handle = registry.register("aio-ctx-" + id, context, AioContext::release);
        } catch (RuntimeException e) {
            channel.close();
            throw e;
        }
        table.put(id, new Published(handle, context));
        return id;
    }

    /**
     * {@code io_submit}: starts the requests in order, each holding a reference on the context
     * until its completion handler has run. Like the kernel's, it may stop short: if the context is
     * killed or runs out of slots part-way, the requests before that point are in flight and the
     * rest are not started.
     *
     * @return how many of {@code iocbs}, from the first, were started (0 only for an empty list)
     * @throws AioException         if not even the first request could be started:
     *                              {@code UNKNOWN_CONTEXT} (not published), {@code CONTEXT_DYING}
     *                              (killed), {@code RING_FULL} (no free slot) or
     *                              {@code BAD_REQUEST} (larger than the context's block size)
     * @throws NullPointerException if {@code iocbs} or one of them is null
     */
    public int ioSubmit(long ctxId, List<IoCb> iocbs) {
        Objects.requireNonNull(iocbs, "iocbs");
        Published p = table.get(ctxId); // lookup_ioctx()
        if (p == null) {
            throw new AioException(AioException.Reason.UNKNOWN_CONTEXT, ctxId, "no such context");
        }
        int started = 0;
        for (IoCb cb : iocbs) {
            Objects.requireNonNull(cb, "iocb");
            AioException refusal = start(p, cb);
            if (refusal != null) {
                if (started == 0) {
                    throw refusal;
                }
                break;
            }
            started++;
        }
        return started;
    }

    /** Starts one request; returns why not, or null if it is in flight. */
    private static AioException start(Published p, IoCb cb) {
        long id = p.context().id();
        if (cb.buffer().length > p.context().blockSize()) {
            return new AioException(AioException.Reason.BAD_REQUEST, id, "request of " + cb.buffer().length
                    + " bytes is larger than the context's block size, " + p.context().blockSize());
        }
        Optional<Lease<AioContext>> lease = p.handle().tryAcquire(); // percpu_ref_tryget_live()
        if (lease.isEmpty()) {
            return new AioException(AioException.Reason.CONTEXT_DYING, id, "the context is being destroyed");
        }
        if (!p.context().start(cb, lease.get())) {
            lease.get().close();
            return new AioException(AioException.Reason.RING_FULL, id, "all " + p.context().nrEvents()
                    + " event slots are in use");
        }
        return null;
    }

    /**
     * {@code io_destroy}: kills the context, waits for the kill to be confirmed, and unpublishes its
     * id in the confirmation, so every lookup after this method returns fails. Requests already in
     * flight run to completion; the context is released (channel closed, slots freed) when the last
     * of them has run its completion handler.
     *
     * @return a stage that completes once the context has been released, with its drain time
     * @throws AioException {@code UNKNOWN_CONTEXT} if the id is not published, or is already being
     *                      destroyed by a concurrent call
     */
    public CompletionStage<ContextDrain> ioDestroy(long ctxId) {
        Published p = table.get(ctxId);
        if (p == null) {
            throw new AioException(AioException.Reason.UNKNOWN_CONTEXT, ctxId, "no such context");
        }
        int inFlight = p.context().inFlight();
        // percpu_ref_kill(): no new reference from here on; empty if a concurrent call killed it first
        CompletionStage<Void> confirmed = p.handle().tryKill().orElseThrow(() ->
                new AioException(AioException.Reason.UNKNOWN_CONTEXT, ctxId, "already being destroyed"));
        // Confirm: unpublish the id. Waiting for it does not wait for in-flight I/O, only for the
        // registry's callback executor to run the confirmation (the kill never waits for holders).
        confirmed.thenRun(() -> table.remove(ctxId, p)).toCompletableFuture().join();
        ManagedResource<AioContext> handle = p.handle();
        AioContext context = p.context();
        return handle.released().thenApply(released ->
                new ContextDrain(ctxId, inFlight, context.completed() + context.failed(), handle.info().dyingFor()));
    }

    /** Whether a context is published under {@code ctxId}: what {@code lookup_ioctx()} would find. */
    public boolean isPublished(long ctxId) {
        return table.containsKey(ctxId);
    }

    /**
     * The context published under {@code ctxId}, for diagnostics (counters, in-flight count). No
     * reference is taken: the context may be destroyed and released at any moment.
     */
    public Optional<AioContext> peek(long ctxId) {
        Published p = table.get(ctxId);
        return p == null ? Optional.empty() : Optional.of(p.context());
    }

    /** Ids of the published contexts, in no particular order; a moment's reading. */
    public List<Long> contextIds() {
        return new ArrayList<>(table.keySet());
    }

    /**
     * Destroys every context still published and waits up to 30 seconds for their release, as a
     * process exit tears down its AIO contexts ({@code exit_aio()}).
     */
    @Override
    public void close() {
        List<CompletableFuture<ContextDrain>> drains = new ArrayList<>();
        for (Long id : contextIds()) {
            try {
                drains.add(ioDestroy(id).toCompletableFuture());
            } catch (AioException raced) {
                // destroyed concurrently: that caller owns its drain
            }
        }
        try {
            CompletableFuture.allOf(drains.toArray(new CompletableFuture<?>[0]))
                    .get(CLOSE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("aio contexts were not released within " + CLOSE_TIMEOUT_SECONDS
                    + " seconds: " + registry.snapshot(), e);
        }
    }
}
