package io.percpuref.ffm;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MappedFileGroupTest {

    private final RefRegistry registry = RefRegistry.builder().name("group-test").build();

    @TempDir
    Path dir;

    @AfterEach
    void shutDown() {
        registry.shutdown(Duration.ofSeconds(5));
    }

    private Path write(String name, int size, int seed) throws IOException {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (i * 31 + seed);
        }
        return Files.write(dir.resolve(name), bytes);
    }

    /** Lines of /proc/self/maps that map a file under the test's directory. */
    private long mappingsUnderDir() throws IOException {
        String prefix = dir.toRealPath().toString();
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(line -> line.contains(prefix)).count();
        }
    }

    @Test
    void mapsManyFilesUnderOneRefWithTheirContents() throws IOException {
        MappedFileGroup group = MappedFileGroup.open(registry, "segment-1");
        List<Path> files = new ArrayList<>();
        for (int f = 0; f < 5; f++) {
            files.add(write("_1." + f, 10_000 + f, f));
        }

        for (Path file : files) {
            group.map(file);
        }

        assertThat(registry.snapshot()).extracting(RefInfo::name).containsExactly("segment-1");
        assertThat(group.segments()).hasSize(5);
        assertThat(group.mappedBytes()).isEqualTo(5 * 10_000 + 10);
        try (ArenaLease lease = group.acquire()) {
            for (Path file : files) {
                assertThat(group.segment(file).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(Files.readAllBytes(file));
            }
        }
        assertThat(mappingsUnderDir()).isEqualTo(5);
    }

    @Test
    void everyFileIsUnmappedTogetherWhenTheLastLeaseClosesAfterClose() throws IOException {
        MappedFileGroup group = MappedFileGroup.open(registry, "segment-2");
        MemorySegment a = group.map(write("_2.a", 8192, 1));
        MemorySegment b = group.map(write("_2.b", 8192, 2));
        ArenaLease lease = group.acquire();

        group.close();

        assertThat(mappingsUnderDir()).isEqualTo(2);
        assertThat(a.get(ValueLayout.JAVA_BYTE, 8191)).isEqualTo((byte) (8191 * 31 + 1));
        assertThat(b.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 2);
        lease.close();
        group.freed().toCompletableFuture().join();
        assertThat(mappingsUnderDir()).isZero();
        assertThatThrownBy(() -> a.get(ValueLayout.JAVA_BYTE, 0)).isExactlyInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> b.get(ValueLayout.JAVA_BYTE, 0)).isExactlyInstanceOf(IllegalStateException.class);
    }

    @Test
    void mapAfterCloseIsRefusedAndMapsNothing() throws IOException {
        MappedFileGroup group = MappedFileGroup.open(registry, "segment-3");
        Path file = write("_3.a", 4096, 3);
        ArenaLease lease = group.acquire();
        group.close();

        assertThatThrownBy(() -> group.map(file))
                .isInstanceOf(ResourceUnavailableException.class)
                .hasMessageContaining("'segment-3' [DYING]");
        assertThat(group.segments()).isEmpty();
        assertThat(mappingsUnderDir()).isZero();
        lease.close();
    }

    @Test
    void mappingTheSameFileTwiceIsRefused() throws IOException {
        MappedFileGroup group = MappedFileGroup.open(registry, "segment-4");
        Path file = write("_4.a", 100, 4);
        group.map(file);

        assertThatThrownBy(() -> group.map(dir.resolve(".").resolve("_4.a")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is already mapped in group 'segment-4' [LIVE]");
    }

    @Test
    void askingForAFileThatIsNotMappedIsRefused() {
        MappedFileGroup group = MappedFileGroup.open(registry, "segment-5");

        assertThatThrownBy(() -> group.segment(dir.resolve("missing")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is not mapped in group 'segment-5' [LIVE]");
    }

    @Test
    void aWritableMappingWritesThroughToTheFile() throws IOException {
        MappedFileGroup group = MappedFileGroup.open(registry, "segment-6");
        Path file = write("_6.a", 16, 0);

        try (ArenaLease lease = group.acquire()) {
            group.map(file, FileChannel.MapMode.READ_WRITE).set(ValueLayout.JAVA_BYTE, 3, (byte) 99);
        }
        group.close();
        group.freed().toCompletableFuture().join();

        assertThat(Files.readAllBytes(file)[3]).isEqualTo((byte) 99);
    }

    @Test
    void filesCanBeDeletedOnceTheGroupIsFreedAndNoMappingOfThemRemains() throws IOException {
        MappedFileGroup group = MappedFileGroup.open(registry, "segment-7");
        Path file = write("_7.a", 65536, 7);
        group.map(file);
        group.close();

        group.freed().toCompletableFuture().join();
        Files.delete(file);

        assertThat(mappingsUnderDir()).isZero();
    }
}
