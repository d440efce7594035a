package io.percpuref.examples.spring;

import org.springframework.stereotype.Component;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the demo's stores keep their files: {@code demo.data-dir}, or a new temporary directory.
 * Each store gets a subdirectory of its own, named after it, which the store deletes when it is closed.
 */
@Component
public class DataDirectory {

    private final Path root;

    DataDirectory(DemoProperties properties) throws IOException {
        Path configured = properties.getDataDir();
        if (configured != null) {
            this.root = Files.createDirectories(configured);
        } else {
            this.root = Files.createTempDirectory("percpu-ref-demo-");
            this.root.toFile().deleteOnExit(); // empty by then: every store deletes its own subdirectory
        }
    }

    /**
     * Opens a new, empty store named {@code name} in a new subdirectory {@code <name>-<random>}
     * (two stores of the same name, say a shard and its successor, never share files).
     *
     * @throws UncheckedIOException if the directory cannot be created
     */
    public KeyValueStore open(String name) {
        try {
            return KeyValueStore.open(name, Files.createTempDirectory(this.root, name + "-"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for store '" + name + "' in " + this.root, e);
        }
    }
}
