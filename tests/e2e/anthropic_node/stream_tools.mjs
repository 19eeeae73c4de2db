// Streams one answer with a tool through @anthropic-ai/sdk and prints what the SDK made of
// it as JSON: the text deltas it emitted, the tool inputs and the final message.
// Usage: node stream_tools.mjs <base URL> <model>
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, model] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey: "x", maxRetries: 0, timeout: 30000 });
const tools = [{
  name: "get_weather",
  description: "Current weather in a city.",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];
const texts = [];
const inputs = [];
const stream = client.messages.stream({
  model,
  max_tokens: 1024,
  tools,
  messages: [{ role: "user", content: "Weather in Paris?" }],
});
stream.on("text", (delta) => texts.push(delta));
stream.on("contentBlock", (block) => { if (block.type === "tool_use") inputs.push(block.input); });
const final = await stream.finalMessage();
console.log(JSON.stringify({ texts, inputs, final }));
