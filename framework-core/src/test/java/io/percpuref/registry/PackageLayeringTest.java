package io.percpuref.registry;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Micrometer is optional: only io.percpuref.micrometer may refer to it. */
class PackageLayeringTest {

    private static final Path SOURCES = Path.of("src", "main", "java", "io", "percpuref");

    @Test
    void theRegistryDoesNotImportMicrometer() throws IOException {
        assertThat(javaFilesImporting("io.micrometer", SOURCES.resolve("registry"))).isEmpty();
    }

    @Test
    void thePrimitiveDoesNotImportMicrometer() throws IOException {
        assertThat(javaFilesImporting("io.micrometer", SOURCES)).isEmpty();
    }

    @Test
    void theRegistryDoesNotImportTheMetricsLayerAboveIt() throws IOException {
        assertThat(javaFilesImporting("io.percpuref.micrometer", SOURCES.resolve("registry"))).isEmpty();
    }

    /** The .java files directly in {@code dir} with an import (static or not) from {@code pkg}. */
    private static List<Path> javaFilesImporting(String pkg, Path dir) throws IOException {
        assertThat(dir).isDirectory();
        Pattern importFrom = Pattern.compile("^import\\s+(static\\s+)?" + Pattern.quote(pkg) + "\\.", Pattern.MULTILINE);
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.toString().endsWith(".java"))
                    .filter(f -> importFrom.matcher(read(f)).find())
                    .collect(Collectors.toList());
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
