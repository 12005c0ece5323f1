// The page's words in English and Portuguese (Brazil). An element with data-i18n="key" gets the text,
// data-i18n-aria="key" its aria-label, data-i18n-ph="key" its placeholder; app.js calls applyLang().
"use strict";
const WORDS = {
  en: {
    title: "dentro — look inside your model", language: "Language", apiKey: "API key (optional)",
    navChat: "Chat", navTok: "Tokenizer", navNext: "Next token", navInside: "Inside", navReport: "Report", navArena: "Arena",
    model: "Model", system: "System prompt", temperature: "Temperature", topP: "Top-p", topK: "Top-k",
    maxTokens: "Max tokens", send: "Send", stop: "Stop", regenerate: "Regenerate", newChat: "New chat",
    conversations: "Conversations", message: "Your message", copy: "Copy", copied: "Copied",
    thinking: "Thinking", think: "Let the model think", toolCall: "Tool call",
    gate: "Confidence gate (greedy; an unsure answer from memory becomes \"I don't know\")",
    gateStands: "confidence {c} ≥ {t}: the answer stands", gateRefused: "confidence {c} < {t}: the model's answer was unsure, so it says it does not know. It would have said: {a}",
    gateNotJudged: "not judged by the gate (small talk, a text to read, or reasoning); confidence {c}", you: "You", assistant: "Assistant", stopped: "(stopped)",
    tokText: "Text to tokenize", showIds: "Show token ids", chatView: "Chat template of a conversation",
    tokens: "tokens", characters: "characters", bytes: "bytes", special: "special",
    userMsg: "User message", prompt: "Prompt", predict: "Predict", sample: "Sample a token",
    nextHelp: "Click a token to append it. Grey tokens are cut by top-k / top-p.",
    tail: "rest of the vocabulary", survive: "tokens survive",
    inspect: "Look inside", layer: "Layer", head: "Head", attention: "Attention", lens: "Logit lens",
    lensHelp: "At every layer, the token the model would predict if it stopped there (final norm + output layer).",
    params: "Where the parameters are", hoverHelp: "Hover a cell (or use the arrow keys) to read it.",
    embeddings: "embeddings", drawnIn: "drawn in", total: "total",
    reportNone: "This run has no report.md yet: run `dentro speedrun`.", loadReport: "Reload report",
    arenaPrompt: "Prompt for both models", askBoth: "Ask both", voteA: "A is better", voteB: "B is better",
    voteTie: "Tie", voteBad: "Both bad", tallies: "Tallies", votes: "votes", wins: "wins", losses: "losses",
    ties: "ties", bothBad: "both bad", edit: "Edit", resend: "Send again", cancel: "Cancel", leaderboard: "Leaderboard (Bradley–Terry, Elo scale, 95% bootstrap interval)",
    rating: "rating", interval: "95% interval", battles: "battles", revealed: "A was {a}, B was {b}.", needTwo: "The arena needs two models.",
    error: "Error", thanks: "Vote saved.",
  },
  pt: {
    title: "dentro — olhe por dentro do seu modelo", language: "Idioma", apiKey: "Chave da API (opcional)",
    navChat: "Chat", navTok: "Tokenizador", navNext: "Próximo token", navInside: "Por dentro", navReport: "Relatório", navArena: "Arena",
    model: "Modelo", system: "Prompt de sistema", temperature: "Temperatura", topP: "Top-p", topK: "Top-k",
    maxTokens: "Máximo de tokens", send: "Enviar", stop: "Parar", regenerate: "Gerar de novo", newChat: "Nova conversa",
    conversations: "Conversas", message: "Sua mensagem", copy: "Copiar", copied: "Copiado",
    thinking: "Pensando", think: "Deixar o modelo pensar", toolCall: "Chamada de ferramenta",
    gate: "Portão de confiança (guloso; uma resposta de memória insegura vira \"Não sei\")",
    gateStands: "confiança {c} ≥ {t}: a resposta fica", gateRefused: "confiança {c} < {t}: a resposta do modelo era insegura, então ele diz que não sabe. Ele teria dito: {a}",
    gateNotJudged: "não julgada pelo portão (conversa, um texto para ler ou um raciocínio); confiança {c}", you: "Você", assistant: "Assistente", stopped: "(interrompido)",
    tokText: "Texto para tokenizar", showIds: "Mostrar ids dos tokens", chatView: "Template de chat de uma conversa",
    tokens: "tokens", characters: "caracteres", bytes: "bytes", special: "especiais",
    userMsg: "Mensagem do usuário", prompt: "Prompt", predict: "Prever", sample: "Sortear um token",
    nextHelp: "Clique num token para acrescentá-lo. Tokens cinza são cortados pelo top-k / top-p.",
    tail: "resto do vocabulário", survive: "tokens sobrevivem",
    inspect: "Olhar por dentro", layer: "Camada", head: "Cabeça", attention: "Atenção", lens: "Lente de logits",
    lensHelp: "Em cada camada, o token que o modelo preveria se parasse ali (norma final + camada de saída).",
    params: "Onde estão os parâmetros", hoverHelp: "Passe o mouse sobre uma célula (ou use as setas) para lê-la.",
    embeddings: "embeddings", drawnIn: "desenhado em", total: "total",
    reportNone: "Esta execução ainda não tem report.md: rode `dentro speedrun`.", loadReport: "Recarregar relatório",
    arenaPrompt: "Prompt para os dois modelos", askBoth: "Perguntar aos dois", voteA: "A é melhor", voteB: "B é melhor",
    voteTie: "Empate", voteBad: "Ambos ruins", tallies: "Placar", votes: "votos", wins: "vitórias", losses: "derrotas",
    ties: "empates", bothBad: "ambos ruins", edit: "Editar", resend: "Enviar de novo", cancel: "Cancelar", leaderboard: "Classificação (Bradley–Terry, escala Elo, intervalo bootstrap de 95%)",
    rating: "nota", interval: "intervalo de 95%", battles: "batalhas", revealed: "A era {a}, B era {b}.", needTwo: "A arena precisa de dois modelos.",
    error: "Erro", thanks: "Voto salvo.",
  },
};
let LANG = localStorage.getItem("dentro.lang") || ((navigator.language || "en").startsWith("pt") ? "pt" : "en");

function t(key, vars) {
  let s = (WORDS[LANG] && WORDS[LANG][key]) || WORDS.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", () => String(v));  // "$&" in v stays text
  return s;
}

function applyLang(lang) {
  if (lang) { LANG = lang; localStorage.setItem("dentro.lang", lang); }
  document.documentElement.lang = LANG === "pt" ? "pt-BR" : "en";
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const el of document.querySelectorAll("[data-i18n-ph]")) el.placeholder = t(el.dataset.i18nPh);
}
