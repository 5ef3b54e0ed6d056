/*
 * YamlProbe.java - reads each file named on the command line with the YAML
 * parser Flink's module loader uses (SnakeYAML as shaded into
 * flink-shaded-jackson, the jar of a StateFun 3.3 distribution's lib/) and
 * prints one line per file: "OK" when the whole stream parses, else "ERR
 * line:col" of the problem. Syntax only: the same events sf-local's pass 1
 * reads. Run by yaml_parity.py as a single-file Java program.
 */
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import org.apache.flink.shaded.jackson2.org.yaml.snakeyaml.Yaml;
import org.apache.flink.shaded.jackson2.org.yaml.snakeyaml.error.MarkedYAMLException;
import org.apache.flink.shaded.jackson2.org.yaml.snakeyaml.events.Event;

public class YamlProbe {
  public static void main(String[] args) throws Exception {
    for (String path : args) {
      String text = new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8);
      String verdict = "OK";
      try {
        for (Event ignored : new Yaml().parse(new StringReader(text))) {
          /* drain every event of every document */
        }
      } catch (MarkedYAMLException e) {
        verdict = "ERR " + (e.getProblemMark().getLine() + 1) + ":"
            + (e.getProblemMark().getColumn() + 1) + " " + e.getProblem();
      } catch (RuntimeException e) {
        verdict = "ERR 0:0 " + e.getClass().getSimpleName();
      }
      System.out.println(verdict.replace('\n', ' '));
    }
  }
}
