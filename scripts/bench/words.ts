// Small word lists for seeded dialogue lines (spoken by espeak-ng). The lines are nonsense
// sentences; what matters is that they sound like speech in the given language.
import type { Rng } from './prng.ts';

export type Language = 'en' | 'de' | 'fr' | 'es';

const WORDS: Record<Language, readonly string[]> = {
  en: [
    'the', 'a', 'we', 'you', 'they', 'never', 'always', 'tonight', 'tomorrow', 'house', 'river', 'station',
    'captain', 'letter', 'window', 'doctor', 'money', 'morning', 'city', 'train', 'garden', 'bridge', 'mother',
    'brother', 'kitchen', 'office', 'story', 'reason', 'answer', 'question', 'found', 'lost', 'heard', 'told',
    'remember', 'believe', 'wanted', 'waited', 'opened', 'closed', 'carried', 'followed', 'listen', 'hurry',
    'quiet', 'careful', 'strange', 'broken', 'golden', 'empty', 'dangerous', 'beautiful', 'cold', 'late',
    'early', 'here', 'there', 'again', 'before', 'after', 'under', 'behind', 'inside', 'outside', 'maybe',
    'really', 'nothing', 'something', 'everyone', 'somebody', 'north', 'harbour', 'engine', 'ticket', 'promise',
    'secret', 'weather', 'island', 'forest', 'signal', 'number', 'minute', 'hour', 'night', 'light', 'fire',
    'water', 'stone', 'paper', 'table', 'chair', 'street', 'corner', 'market', 'police', 'hospital', 'museum',
    'why', 'how', 'where', 'when', 'what', 'please', 'thank', 'sorry', 'yes', 'no', 'not', 'and', 'but', 'so',
  ],
  de: [
    'der', 'die', 'das', 'wir', 'ihr', 'sie', 'niemals', 'immer', 'heute', 'morgen', 'Haus', 'Fluss', 'Bahnhof',
    'Kapitän', 'Brief', 'Fenster', 'Arzt', 'Geld', 'Stadt', 'Zug', 'Garten', 'Brücke', 'Mutter', 'Bruder',
    'Küche', 'Büro', 'Geschichte', 'Grund', 'Antwort', 'Frage', 'gefunden', 'verloren', 'gehört', 'gesagt',
    'erinnern', 'glauben', 'wollten', 'gewartet', 'geöffnet', 'geschlossen', 'getragen', 'gefolgt', 'hör zu',
    'schnell', 'leise', 'vorsichtig', 'seltsam', 'kaputt', 'golden', 'leer', 'gefährlich', 'schön', 'kalt',
    'spät', 'früh', 'hier', 'dort', 'wieder', 'vorher', 'nachher', 'unter', 'hinter', 'drinnen', 'draußen',
    'vielleicht', 'wirklich', 'nichts', 'etwas', 'jeder', 'jemand', 'Norden', 'Hafen', 'Motor', 'Fahrkarte',
    'Versprechen', 'Geheimnis', 'Wetter', 'Insel', 'Wald', 'Signal', 'Nummer', 'Minute', 'Stunde', 'Nacht',
    'Licht', 'Feuer', 'Wasser', 'Stein', 'Papier', 'Tisch', 'Straße', 'Ecke', 'Markt', 'Polizei', 'warum',
    'wie', 'wo', 'wann', 'was', 'bitte', 'danke', 'ja', 'nein', 'nicht', 'und', 'aber', 'also',
  ],
  fr: [
    'le', 'la', 'les', 'nous', 'vous', 'ils', 'jamais', 'toujours', 'ce soir', 'demain', 'maison', 'rivière',
    'gare', 'capitaine', 'lettre', 'fenêtre', 'médecin', 'argent', 'matin', 'ville', 'train', 'jardin', 'pont',
    'mère', 'frère', 'cuisine', 'bureau', 'histoire', 'raison', 'réponse', 'question', 'trouvé', 'perdu',
    'entendu', 'dit', 'souvenir', 'croire', 'voulu', 'attendu', 'ouvert', 'fermé', 'porté', 'suivi', 'écoute',
    'vite', 'calme', 'prudent', 'étrange', 'cassé', 'doré', 'vide', 'dangereux', 'beau', 'froid', 'tard', 'tôt',
    'ici', 'là-bas', 'encore', 'avant', 'après', 'sous', 'derrière', 'dedans', 'dehors', 'peut-être', 'vraiment',
    'rien', 'quelque chose', 'tout le monde', 'quelqu\'un', 'nord', 'port', 'moteur', 'billet', 'promesse',
    'secret', 'temps', 'île', 'forêt', 'signal', 'numéro', 'minute', 'heure', 'nuit', 'lumière', 'feu', 'eau',
    'pierre', 'papier', 'table', 'chaise', 'rue', 'coin', 'marché', 'police', 'pourquoi', 'comment', 'où',
    'quand', 'quoi', 's\'il vous plaît', 'merci', 'pardon', 'oui', 'non', 'pas', 'et', 'mais', 'donc',
  ],
  es: [
    'el', 'la', 'los', 'nosotros', 'ustedes', 'ellos', 'nunca', 'siempre', 'esta noche', 'mañana', 'casa', 'río',
    'estación', 'capitán', 'carta', 'ventana', 'médico', 'dinero', 'ciudad', 'tren', 'jardín', 'puente', 'madre',
    'hermano', 'cocina', 'oficina', 'historia', 'razón', 'respuesta', 'pregunta', 'encontrado', 'perdido', 'oído',
    'dicho', 'recordar', 'creer', 'quería', 'esperó', 'abierto', 'cerrado', 'llevado', 'seguido', 'escucha',
    'rápido', 'tranquilo', 'cuidado', 'extraño', 'roto', 'dorado', 'vacío', 'peligroso', 'hermoso', 'frío',
    'tarde', 'temprano', 'aquí', 'allí', 'otra vez', 'antes', 'después', 'debajo', 'detrás', 'dentro', 'fuera',
    'quizás', 'de verdad', 'nada', 'algo', 'todos', 'alguien', 'norte', 'puerto', 'motor', 'billete', 'promesa',
    'secreto', 'tiempo', 'isla', 'bosque', 'señal', 'número', 'minuto', 'hora', 'noche', 'luz', 'fuego', 'agua',
    'piedra', 'papel', 'mesa', 'silla', 'calle', 'esquina', 'mercado', 'policía', 'por qué', 'cómo', 'dónde',
    'cuándo', 'qué', 'por favor', 'gracias', 'perdón', 'sí', 'no', 'y', 'pero', 'entonces',
  ],
};

/** A nonsense sentence of `count` words in `language`, ending with '.' or '?'. */
export function sentence(rng: Rng, language: Language, count: number): string {
  const list = WORDS[language];
  const words: string[] = [];
  for (let i = 0; i < count; i++) words.push(rng.pick(list));
  const text = words.join(' ');
  const first = text.charAt(0).toUpperCase() + text.slice(1);
  return first + (rng.chance(0.25) ? '?' : '.');
}
