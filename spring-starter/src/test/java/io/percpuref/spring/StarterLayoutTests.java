package io.percpuref.spring;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.context.annotation.ImportCandidates;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The starter is laid out by concern: the annotations and public types in {@code io.percpuref.spring},
 * the auto-configuration, the actuator endpoint and health, the guard machinery, the shutdown drain
 * and the web exception handler each in a subpackage, with no cycle between any of them, and only
 * the auto-configuration classes listed as entry points. The rules run on ArchUnit's JUnit 5 engine,
 * the other checks on Jupiter, both on Spring Boot's JUnit platform.
 */
@AnalyzeClasses(packages = "io.percpuref.spring", importOptions = ImportOption.DoNotIncludeTests.class)
class StarterLayoutTests {

    private static final String ROOT = "io.percpuref.spring";

    /** The starter's own classes, without the tests. */
    private static final JavaClasses STARTER = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages(ROOT);

    /** A root type depending on a subpackage, and two subpackages depending on each other. */
    private static final JavaClasses BAD_LAYOUT = new ClassFileImporter()
            .importPackages("io.percpuref.layoutfixture");

    /** Run by ArchUnit's JUnit engine, on the classes of {@link AnalyzeClasses}. */
    @ArchTest
    static final ArchRule noCyclesBetweenThePackages = packagesFreeOfCycles(ROOT);

    @ArchTest
    static final ArchRule thePublicTypesDependOnNoSubpackage = publicTypesStandAlone(ROOT);

    @Test
    void theRulesCatchABadLayout() {
        EvaluationResult cycles = packagesFreeOfCycles("io.percpuref.layoutfixture").evaluate(BAD_LAYOUT);
        assertThat(cycles.hasViolation()).isTrue();
        assertThat(cycles.getFailureReport().toString()).contains("Cycle detected: Slice a", "has type <io.percpuref.layoutfixture.b.B>", "has type <io.percpuref.layoutfixture.a.A>");
        EvaluationResult rootDependsOnSub = publicTypesStandAlone("io.percpuref.layoutfixture").evaluate(BAD_LAYOUT);
        assertThat(rootDependsOnSub.hasViolation()).isTrue();
        assertThat(rootDependsOnSub.getFailureReport().toString()).contains("io.percpuref.layoutfixture.Api");
    }

    @Test
    void eachPackageExposesOnlyItsEntryPoints() {
        Map<String, Set<String>> publicTypes = new TreeMap<>();
        STARTER.stream()
                .filter(JavaClass::isTopLevelClass)
                .filter(c -> c.getModifiers().contains(JavaModifier.PUBLIC))
                .forEach(c -> publicTypes.computeIfAbsent(c.getPackageName(), p -> new TreeSet<>()).add(c.getSimpleName()));
        assertThat(publicTypes).isEqualTo(Map.of(
                ROOT, Set.of("DefaultGuardedCallObservationConvention", "Guarded", "GuardedCallContext",
                        "GuardedCallObservationConvention", "GuardedResource", "RefRegistryCustomizer"),
                ROOT + ".autoconfigure", Set.of("PercpuRefActuatorAutoConfiguration", "PercpuRefAutoConfiguration",
                        "PercpuRefProperties"),
                ROOT + ".actuate", Set.of("PercpuRefsEndpoint", "PercpuRefsHealthIndicator"),
                ROOT + ".guard", Set.of("GuardedBeanPostProcessor", "GuardedResourceRegistrar", "ObservationGuardObserver"),
                ROOT + ".lifecycle", Set.of("PercpuRefLifecycle"),
                ROOT + ".web", Set.of("ResourceUnavailableExceptionHandler"),
                ROOT + ".test", Set.of("AutoConfigurePercpuRef")));
    }

    @Test
    void onlyTheAutoConfigurationsAreListedAsEntryPoints() {
        Set<String> listed = ImportCandidates.load(AutoConfiguration.class, getClass().getClassLoader()).getCandidates()
                .stream().filter(name -> name.startsWith(ROOT + ".")).collect(Collectors.toCollection(TreeSet::new));
        Set<String> autoConfigurations = STARTER.stream()
                .filter(c -> c.isAnnotatedWith(AutoConfiguration.class))
                .map(JavaClass::getName).collect(Collectors.toCollection(TreeSet::new));
        assertThat(listed).containsExactly(ROOT + ".autoconfigure.PercpuRefActuatorAutoConfiguration",
                ROOT + ".autoconfigure.PercpuRefAutoConfiguration");
        assertThat(autoConfigurations).isEqualTo(listed);
    }

    /** One slice per subpackage (with its own subpackages) and one for the root package. */
    private static ArchRule packagesFreeOfCycles(String root) {
        return slices().assignedFrom(byConcern(root)).should().beFreeOfCycles();
    }

    private static ArchRule publicTypesStandAlone(String root) {
        return noClasses().that().resideInAPackage(root)
                .should().dependOnClassesThat(inASubpackageOf(root));
    }

    private static DescribedPredicate<JavaClass> inASubpackageOf(String root) {
        return DescribedPredicate.describe("reside in a subpackage of " + root,
                c -> c.getPackageName().startsWith(root + "."));
    }

    private static SliceAssignment byConcern(String root) {
        return new SliceAssignment() {
            @Override
            public SliceIdentifier getIdentifierOf(JavaClass javaClass) {
                String name = javaClass.getPackageName();
                if (name.equals(root)) {
                    return SliceIdentifier.of("public types");
                }
                if (!name.startsWith(root + ".")) {
                    return SliceIdentifier.ignore();
                }
                String sub = name.substring(root.length() + 1);
                int dot = sub.indexOf('.');
                return SliceIdentifier.of(dot < 0 ? sub : sub.substring(0, dot));
            }

            @Override
            public String getDescription() {
                return "the packages of " + root;
            }
        };
    }
}
