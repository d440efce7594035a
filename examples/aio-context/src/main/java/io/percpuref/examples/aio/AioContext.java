package io.percpuref.examples.aio;

import io.percpuref.registry.Lease;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.CompletionHandler;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * One AIO context, the kernel's {@code struct kioctx}: the file channel it does I/O on, its event
 * slots, and counters. Created by {@link Aio#ioSetup}, registered in a
 * {@link io.percpuref.registry.RefRegistry}, closed by {@link #release()} exactly once.
 *
 * <p>Event slots: {@code io_setup}'s {@code nr_events} fixes how many requests may be in flight;
 * here each slot is a direct bounce buffer of {@code blockSize} bytes (the I/O goes through it, as
 * the kernel's goes through pages it pinned). A request takes a slot at submit and gives it back in
 * its completion handler; no free slot means {@code EAGAIN}.
 *
 * <p>References: every request holds a {@link Lease} on this context from {@code io_submit} until
 * the very end of its completion handler ({@link Request#finish}): the lease is the last thing the
 * handler touches. So {@link #release()}, which the registry runs only after the context was killed
 * and its last lease closed, runs after every completion handler has finished, and the channel is
 * never closed under an I/O that is still running. {@link #releaseViolation()} checks exactly that,
 * from counters written before each lease is closed (the lease's put happens-before the release).
 *
 * <p>Thread-safety: requests are submitted from any thread and complete on the channel's executor;
 * all shared state is in concurrent collections and atomics.
 */
public final class AioContext {

    /** The id {@code io_setup} returned; also the registry name's suffix. */
    private final long id;
    /** The file this context's channel is open on. */
    private final Path file;
    /** The channel every request of this context uses; closed by {@link #release()}. */
    private final AsynchronousFileChannel channel;
    /** Largest request, in bytes: the size of each slot's bounce buffer. */
    private final int blockSize;
    /** {@code nr_events}: the number of slots. */
    private final int nrEvents;
    /** Slots not taken by a request in flight; emptied (the buffers freed) by {@link #release()}. */
    private final ArrayBlockingQueue<ByteBuffer> freeSlots;

    /** Requests started (a slot and a lease taken). */
    private final LongAdder submitted = new LongAdder();
    /** Requests that completed successfully. */
    private final LongAdder completed = new LongAdder();
    /** Requests that completed with an error. */
    private final LongAdder failed = new LongAdder();
    /** Completion handlers that ran to their end (just before their lease is closed). */
    private final LongAdder handlersRun = new LongAdder();
    /** {@link IoCb#onEvent()} callbacks that threw (reported here, never propagated to the channel). */
    private final LongAdder callbackFailures = new LongAdder();
    /** How many times {@link #release()} ran: must end at exactly 1. */
    private final AtomicInteger releases = new AtomicInteger();
    /** {@link #handlersRun} as {@link #release()} found it; -1 until then. */
    private volatile long handlersRunAtRelease = -1;
    /** Set by {@link #release()} before it frees the slots. */
    private volatile boolean released;
    /** {@link #submitted} as {@link #release()} found it; -1 until then. */
    private volatile long submittedAtRelease = -1;
    /** Slots still taken when {@link #release()} ran; -1 until then. */
    private volatile int slotsTakenAtRelease = -1;

    AioContext(long id, Path file, AsynchronousFileChannel channel, int nrEvents, int blockSize) {
        this.id = id;
        this.file = file;
        this.channel = channel;
        this.nrEvents = nrEvents;
        this.blockSize = blockSize;
        this.freeSlots = new ArrayBlockingQueue<>(nrEvents);
        for (int i = 0; i < nrEvents; i++) {
            freeSlots.add(ByteBuffer.allocateDirect(blockSize));
        }
    }

    /** The id {@code io_setup} returned. */
    public long id() {
        return id;
    }

    /** The file this context does its I/O on. */
    public Path file() {
        return file;
    }

    /** {@code nr_events}: how many requests may be in flight at once. */
    public int nrEvents() {
        return nrEvents;
    }

    /** The largest request this context accepts, in bytes. */
    public int blockSize() {
        return blockSize;
    }

    /** Requests in flight now (slots taken); a moment's reading, for progress and diagnostics. */
    public int inFlight() {
        return released ? 0 : nrEvents - freeSlots.size();
    }

    /** Requests submitted over the context's life. */
    public long submitted() {
        return submitted.sum();
    }

    /** Requests that completed successfully. */
    public long completed() {
        return completed.sum();
    }

    /** Requests that completed with an error. */
    public long failed() {
        return failed.sum();
    }

    /** Event callbacks that threw. */
    public long callbackFailures() {
        return callbackFailures.sum();
    }

    /** How many times the release action ran (0 while live or dying, then exactly 1). */
    public int releaseCount() {
        return releases.get();
    }

    /** Whether the channel is open: true until {@link #release()}. */
    public boolean isChannelOpen() {
        return channel.isOpen();
    }

    /**
     * What went wrong with this context's release, if anything: released more than once, or while a
     * completion handler had not finished or a slot was still taken. Empty before the release and
     * after a correct one.
     */
    public Optional<String> releaseViolation() {
        int n = releases.get();
        if (n > 1) {
            return Optional.of("aio context " + id + " was released " + n + " times");
        }
        if (n == 1 && handlersRunAtRelease != submittedAtRelease) {
            return Optional.of("aio context " + id + " was released after " + handlersRunAtRelease + " of "
                    + submittedAtRelease + " completion handlers had run");
        }
        if (n == 1 && slotsTakenAtRelease != 0) {
            return Optional.of("aio context " + id + " was released with " + slotsTakenAtRelease + " slots in use");
        }
        return Optional.empty();
    }

    /**
     * Starts {@code cb} under {@code lease}, which the request's completion handler closes.
     *
     * @return false, with nothing started and the lease untouched, if no slot is free
     */
    boolean start(IoCb cb, Lease<AioContext> lease) {
        ByteBuffer slot = freeSlots.poll();
        if (slot == null) {
            return false;
        }
        submitted.increment();
        new Request(cb, slot, lease).begin();
        return true;
    }

    /**
     * The release action (the kernel's {@code free_ioctx_users()} through {@code free_ioctx()}): runs
     * once, on the registry's callback executor, after the kill was confirmed and the last request's
     * lease was closed. Records what it found for {@link #releaseViolation()}, frees the slots and
     * closes the channel.
     *
     * @throws IOException if closing the channel fails (the registry reports it)
     */
    void release() throws IOException {
        releases.incrementAndGet();
        submittedAtRelease = submitted.sum();
        handlersRunAtRelease = handlersRun.sum();
        slotsTakenAtRelease = nrEvents - freeSlots.size();
        released = true;
        freeSlots.clear(); // frees the bounce buffers: direct memory goes with the buffer objects
        channel.close();
    }

    @Override
    public String toString() {
        return "aio context " + id + " on " + file.getFileName() + " (" + inFlight() + "/" + nrEvents + " in flight)";
    }

    /**
     * One request in flight: the channel's completion handler for it. Re-issues the rest of a short
     * transfer, and completes exactly once, in {@link #finish}.
     */
    private final class Request implements CompletionHandler<Integer, Void> {
        private final IoCb cb;
        private final ByteBuffer slot;
        private final Lease<AioContext> lease;
        /** Bytes transferred so far; written only by the thread running the current handler. */
        private int transferred;

        Request(IoCb cb, ByteBuffer slot, Lease<AioContext> lease) {
            this.cb = cb;
            this.slot = slot;
            this.lease = lease;
        }

        void begin() {
            slot.clear().limit(cb.buffer().length);
            if (cb.opcode() == IoCb.Opcode.PWRITE) {
                slot.put(cb.buffer()).flip();
            }
            issue();
        }

        private void issue() {
            try {
                long position = cb.offset() + transferred;
                if (cb.opcode() == IoCb.Opcode.PWRITE) {
                    channel.write(slot, position, null, this);
                } else {
                    channel.read(slot, position, null, this);
                }
            } catch (RuntimeException e) {
                // The channel refused to start it (closed, executor shut down): complete it here.
                finish(e);
            }
        }

        @Override
        public void completed(Integer n, Void attachment) {
            if (n > 0) {
                transferred += n;
                if (slot.hasRemaining()) {
                    issue(); // a short transfer: the rest, still under the same lease
                    return;
                }
            }
            finish(null); // done, or end of file (n == -1: a short read)
        }

        @Override
        public void failed(Throwable error, Void attachment) {
            finish(error);
        }

        /** Returns the slot, delivers the event, and closes the lease: the request's last act. */
        private void finish(Throwable error) {
            try {
                if (error == null && cb.opcode() == IoCb.Opcode.PREAD) {
                    slot.flip();
                    slot.get(cb.buffer(), 0, transferred);
                }
                freeSlots.add(slot); // before the event: a caller that reaps the event may submit again at once
                (error == null ? completed : failed).increment();
                try {
                    cb.onEvent().accept(new IoEvent(id, cb, transferred, error));
                } catch (RuntimeException e) {
                    callbackFailures.increment();
                }
                handlersRun.increment();
            } finally {
                // put: everything above happens-before the release action, if this was the last reference
                lease.close();
            }
        }
    }
}
