package io.percpuref.examples.modules;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The module jars this example's build produces (from {@code src/modules/}) and ships as resources
 * under {@code modules/}. A class loader cannot load a jar nested in another jar, so they are
 * copied out to a directory before loading.
 */
public final class ModuleJars {

    /** The bundled modules, by jar base name. */
    public static final List<String> BUNDLED = List.of("greeter-1.0", "greeter-2.0", "rot13-1.0");

    private ModuleJars() {
    }

    /**
     * Copies every bundled module jar into {@code dir}.
     *
     * @return the jar of each module, by base name ({@code "greeter-1.0"} to {@code dir/greeter-1.0.jar})
     * @throws IOException if a jar is missing from the class path (the example was not built with
     *                     Maven) or cannot be written
     */
    public static Map<String, Path> extractTo(Path dir) throws IOException {
        Map<String, Path> jars = new LinkedHashMap<>();
        for (String name : BUNDLED) {
            String resource = "/modules/" + name + ".jar";
            try (InputStream in = ModuleJars.class.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IOException("module jar " + resource + " is not on the class path;"
                            + " build the example with Maven (its process-classes phase makes the module jars)");
                }
                Path jar = dir.resolve(name + ".jar");
                Files.copy(in, jar, StandardCopyOption.REPLACE_EXISTING);
                jars.put(name, jar);
            }
        }
        return jars;
    }
}
