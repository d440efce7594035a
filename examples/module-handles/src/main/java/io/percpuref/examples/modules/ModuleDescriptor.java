package io.percpuref.examples.modules;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * A module jar's identity, read from its manifest before anything of it is loaded: the Java shape of
 * {@code modinfo}.
 *
 * @param name      {@code Module-Name}: modules are loaded, called and unloaded by it
 * @param version   {@code Module-Version}
 * @param className {@code Module-Class}: implements {@link LoadableModule}
 * @param jar       where it was read from
 */
public record ModuleDescriptor(String name, String version, String className, Path jar) {

    /** Manifest attribute naming the module. */
    public static final String NAME = "Module-Name";
    /** Manifest attribute carrying the module's version. */
    public static final String VERSION = "Module-Version";
    /** Manifest attribute naming the class that implements {@link LoadableModule}. */
    public static final String CLASS = "Module-Class";

    /** @throws NullPointerException if a component is null */
    public ModuleDescriptor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(className, "className");
        Objects.requireNonNull(jar, "jar");
    }

    /**
     * Reads the descriptor of the module jar {@code jar}.
     *
     * @throws IOException              if the jar cannot be read
     * @throws IllegalArgumentException if its manifest lacks one of the three attributes
     */
    public static ModuleDescriptor read(Path jar) throws IOException {
        try (JarFile file = new JarFile(jar.toFile())) {
            Manifest manifest = file.getManifest();
            Attributes main = manifest == null ? new Attributes() : manifest.getMainAttributes();
            return new ModuleDescriptor(attribute(jar, main, NAME), attribute(jar, main, VERSION),
                    attribute(jar, main, CLASS), jar);
        }
    }

    private static String attribute(Path jar, Attributes main, String name) {
        String value = main.getValue(name);
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(jar + " is not a module jar: its manifest has no " + name);
        }
        return value.strip();
    }

    /** For example {@code greeter 1.0}. */
    @Override
    public String toString() {
        return name + " " + version;
    }
}
