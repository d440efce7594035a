package io.percpuref.ffm;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Many files mapped into one {@link DrainingArena}, under one ref, unmapped together when the last
 * lease on the group is closed after {@link #close()}: Lucene's per-segment grouping of an index's
 * files in one reference-counted shared arena, with the registry's kill, leak and stuck detection.
 *
 * <pre>{@code
 * MappedFileGroup segment7 = MappedFileGroup.open(registry, "index/segment-7");
 * MemorySegment postings = segment7.map(dir.resolve("_7.doc"));
 * MemorySegment terms = segment7.map(dir.resolve("_7.tim"));
 *
 * try (ArenaLease lease = segment7.acquire()) {      // in each searching thread
 *     byte b = postings.get(ValueLayout.JAVA_BYTE, offset);
 * }
 *
 * segment7.close();                                   // merged away: returns at once
 * segment7.freed().thenRun(() -> deleteFiles(dir));   // unmapped: nothing keeps a mapping of them
 * }</pre>
 *
 * <p>A file is mapped with {@link FileChannel#map(FileChannel.MapMode, long, long, java.lang.foreign.Arena)}
 * into the group's arena, whole, under a lease taken for the call (so a concurrent close cannot
 * unmap the group in the middle of it); the channel is closed right after, the mapping stays until
 * the group's memory is freed. Individual files cannot be unmapped early: the group is the unit, as
 * a shared arena is. Everything {@link DrainingArena} says about leases, closing and segments used
 * after the memory is gone holds here.
 */
public final class MappedFileGroup implements AutoCloseable {

    /** The arena the files are mapped into. */
    private final DrainingArena arena;
    /** The mapped files, by absolute normalized path. */
    private final ConcurrentMap<Path, MemorySegment> segments = new ConcurrentHashMap<>();

    private MappedFileGroup(DrainingArena arena) {
        this.arena = arena;
    }

    /**
     * Opens an empty group: a new {@link DrainingArena} registered in {@code registry} under
     * {@code name}.
     *
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if the name is blank or taken by a live or dying resource
     * @throws IllegalStateException    if the registry is shut down
     */
    public static MappedFileGroup open(RefRegistry registry, String name) {
        return new MappedFileGroup(DrainingArena.open(registry, name));
    }

    /** {@link #map(Path, FileChannel.MapMode)} read-only. */
    public MemorySegment map(Path file) throws IOException {
        return map(file, FileChannel.MapMode.READ_ONLY);
    }

    /**
     * Maps the whole of {@code file} into the group and remembers it under its absolute path.
     *
     * @return the mapped segment, valid until the group's memory is {@linkplain #freed() freed}
     * @throws ResourceUnavailableException if the group was closed (nothing is mapped)
     * @throws IllegalArgumentException     if that file is already mapped in this group (the new
     *                                      mapping, if a concurrent map of the same file made one,
     *                                      stays until the group is freed)
     * @throws IOException                  if the file cannot be opened or mapped
     */
    public MemorySegment map(Path file, FileChannel.MapMode mode) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(mode, "mode");
        Path key = file.toAbsolutePath().normalize();
        if (segments.containsKey(key)) {
            throw alreadyMapped(key);
        }
        try (ArenaLease lease = arena.acquire();
             FileChannel channel = mode == FileChannel.MapMode.READ_ONLY
                     ? FileChannel.open(key, StandardOpenOption.READ)
                     : FileChannel.open(key, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment segment = channel.map(mode, 0, channel.size(), lease.arena());
            if (segments.putIfAbsent(key, segment) != null) {
                throw alreadyMapped(key);
            }
            return segment;
        }
    }

    private IllegalArgumentException alreadyMapped(Path key) {
        return new IllegalArgumentException("file " + key + " is already mapped in group '" + name() + "' ["
                + state() + "]");
    }

    /**
     * The segment {@code file} was mapped to.
     *
     * @throws IllegalArgumentException if that file is not mapped in this group
     */
    public MemorySegment segment(Path file) {
        MemorySegment segment = segments.get(file.toAbsolutePath().normalize());
        if (segment == null) {
            throw new IllegalArgumentException("file " + file.toAbsolutePath().normalize()
                    + " is not mapped in group '" + name() + "' [" + state() + "]; mapped: " + segments.keySet());
        }
        return segment;
    }

    /** Every mapped file and its segment (a copy), by absolute normalized path. */
    public Map<Path, MemorySegment> segments() {
        return Map.copyOf(segments);
    }

    /** The sum of the sizes of the mapped files. */
    public long mappedBytes() {
        return segments.values().stream().mapToLong(MemorySegment::byteSize).sum();
    }

    /** {@link DrainingArena#acquire()} on the group's arena: every mapping stays while the lease is open. */
    public ArenaLease acquire() {
        return arena.acquire();
    }

    /** {@link DrainingArena#tryAcquire()} on the group's arena. */
    public Optional<ArenaLease> tryAcquire() {
        return arena.tryAcquire();
    }

    /**
     * Kills the group: returns at once; every file is unmapped, together, when the last lease is
     * closed. See {@link DrainingArena#close()}.
     *
     * @throws IllegalStateException if the group was already closed
     */
    @Override
    public void close() {
        arena.close();
    }

    /** {@link #close()}, returning the stage that completes when the kill is confirmed. */
    public CompletionStage<Void> kill() {
        return arena.kill();
    }

    /** Completes once every file of the group is unmapped (see {@link DrainingArena#freed()}). */
    public CompletionStage<Void> freed() {
        return arena.freed();
    }

    /** The arena the files are mapped into (to allocate more memory that lives and dies with them). */
    public DrainingArena arena() {
        return arena;
    }

    /** The group's registered name. */
    public String name() {
        return arena.name();
    }

    /** The group's state in the registry. */
    public RefState state() {
        return arena.state();
    }

    @Override
    public String toString() {
        return "MappedFileGroup['" + name() + "' " + state() + ", " + segments.size() + " files]";
    }
}
